import {
  Badge,
  Button,
  Code,
  Group,
  NumberInput,
  Paper,
  SimpleGrid,
  Stack,
  Switch,
  Text,
  TagsInput,
  Title,
} from '@mantine/core'
import { notifications } from '@mantine/notifications'
import { useEffect, useState } from 'react'
import { put } from '../api'
import { ErrorNote, PageHeader } from '../components'
import { useSubmit } from '../form'
import { useApi } from '../hooks'
import { CacheSettings } from './CacheSettings'

interface Config {
  client_config: Record<string, unknown>
  auth_config?: { is_enabled: boolean; admin_username: string }
  is_db_connected: boolean
  is_cache_connected: boolean
  is_logs_connected: boolean
  restart_required?: { required: boolean; reason?: string }
}

const NUMBERS = {
  log_retention_days: {
    label: 'Log retention (days)',
    hint: 'Older request logs are deleted; empty keeps them',
  },
  max_total_attempts: {
    label: 'Most attempts per request',
    hint: 'Retries and fallbacks included (1 to 50)',
  },
  max_request_body_size_mb: { label: 'Largest request body (MB)', hint: 'Applies at the next start' },
  shutdown_timeout_seconds: { label: 'Shutdown grace (seconds)', hint: 'Applies at the next start' },
  mcp_agent_depth: {
    label: 'MCP agent rounds',
    hint: 'Auto-executed tool rounds per request; 0 turns it off',
  },
} as const

export function SettingsPage() {
  const { data, error, reload } = useApi<Config>('/api/config')
  const version = useApi<unknown>('/api/version')
  const [client, setClient] = useState<Record<string, unknown>>({})
  const form = useSubmit(Object.keys(NUMBERS).concat(['allowed_origins']))
  useEffect(() => {
    if (data) setClient(data.client_config)
  }, [data])
  const set = (k: string, v: unknown) => setClient((c) => ({ ...c, [k]: v }))
  const save = () =>
    form.run(async () => {
      const res = await put<{ restart_required?: { required: boolean; reason?: string } }>('/api/config', {
        client_config: client,
      })
      notifications.show({
        color: 'green',
        message: res.restart_required?.required
          ? `Settings saved; ${res.restart_required.reason ?? 'some apply at the next start'}`
          : 'Settings saved',
      })
      void reload()
    })
  // A switch shows what the gateway does: an absent setting is its default, not "off".
  const flag = (k: string, label: string, byDefault = false) => (
    <Switch
      label={label}
      checked={typeof client[k] === 'boolean' ? client[k] === true : byDefault}
      onChange={(e) => set(k, e.currentTarget.checked)}
    />
  )
  // Empty stays absent (the server's default); anything typed goes to the server, which judges it.
  const number = (k: keyof typeof NUMBERS) => (
    <NumberInput
      key={k}
      label={NUMBERS[k].label}
      description={NUMBERS[k].hint}
      value={client[k] === undefined ? '' : Number(client[k])}
      onChange={(v) => set(k, v === '' ? undefined : Number(v))}
      error={form.errorFor(k)}
      name={k}
    />
  )
  return (
    <>
      <PageHeader
        title="Settings"
        description="The gateway's client configuration, admin login and stores."
        actions={
          <Button onClick={save} loading={form.busy}>
            Save
          </Button>
        }
      />
      <ErrorNote error={error} />
      {form.general && <ErrorNote error={`Not saved: ${form.general}`} />}
      {[...Object.keys(NUMBERS), 'allowed_origins'].some((k) => form.errorFor(k)) && (
        <ErrorNote error="Not saved: correct the field marked below." />
      )}
      {data?.restart_required?.required && (
        <ErrorNote error={`A restart is needed: ${data.restart_required.reason ?? ''}`} />
      )}
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Paper withBorder p="lg">
          <Title order={4} mb="md">
            Client
          </Title>
          <Stack>
            {flag('drop_excess_requests', 'Drop requests beyond the queue')}
            {flag('enable_logging', 'Log requests', true)}
            {flag('disable_content_logging', 'Leave message contents out of the logs')}
            {flag('enforce_auth_on_inference', 'Require a virtual key on every inference request')}
            {flag('allow_direct_keys', 'Let callers send their own provider keys')}
            {(Object.keys(NUMBERS) as (keyof typeof NUMBERS)[]).map(number)}
            <TagsInput
              label="Allowed origins (CORS)"
              description="Applies at the next start"
              value={(client.allowed_origins as string[]) ?? []}
              onChange={(v) => set('allowed_origins', v)}
              error={form.errorFor('allowed_origins')}
            />
          </Stack>
        </Paper>
        <Stack>
          <Paper withBorder p="lg">
            <Title order={4} mb="md">
              Admin login
            </Title>
            <Group>
              <Badge color={data?.auth_config?.is_enabled ? 'green' : 'gray'}>
                {data?.auth_config?.is_enabled ? 'on' : 'off'}
              </Badge>
              <Text size="sm">
                {data?.auth_config?.admin_username
                  ? `user ${data.auth_config.admin_username}`
                  : 'Set auth_config in config.json to require a login.'}
              </Text>
            </Group>
          </Paper>
          <Paper withBorder p="lg">
            <Title order={4} mb="md">
              Stores
            </Title>
            <Stack gap="xs">
              {(
                [
                  ['Config store', data?.is_db_connected],
                  ['Cache', data?.is_cache_connected],
                  ['Logs store', data?.is_logs_connected],
                ] as const
              ).map(([label, ok]) => (
                <Group key={label} justify="space-between" data-testid={`store-${label}`}>
                  <Text size="sm">{label}</Text>
                  <Badge color={ok ? 'green' : 'gray'}>{ok ? 'connected' : 'not connected'}</Badge>
                </Group>
              ))}
              <Group justify="space-between" data-testid="retention">
                <Text size="sm">Log retention</Text>
                <Text size="sm" fw={500}>
                  {data?.client_config.log_retention_days
                    ? `${String(data.client_config.log_retention_days)} days`
                    : 'kept until deleted'}
                </Text>
              </Group>
            </Stack>
          </Paper>
          <CacheSettings />
          <Paper withBorder p="lg">
            <Title order={4} mb="xs">
              Version
            </Title>
            <Code>{typeof version.data === 'string' ? version.data : JSON.stringify(version.data)}</Code>
          </Paper>
        </Stack>
      </SimpleGrid>
    </>
  )
}
