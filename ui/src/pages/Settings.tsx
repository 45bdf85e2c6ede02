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
import { errorText, put } from '../api'
import { ErrorNote, PageHeader } from '../components'
import { useApi } from '../hooks'

interface Config {
  client_config: Record<string, unknown>
  auth_config?: { is_enabled: boolean; admin_username: string }
  is_db_connected: boolean
  is_cache_connected: boolean
  is_logs_connected: boolean
  restart_required?: { required: boolean; reason?: string }
}

export function SettingsPage() {
  const { data, error, reload } = useApi<Config>('/api/config')
  const version = useApi<unknown>('/api/version')
  const [client, setClient] = useState<Record<string, unknown>>({})
  const [saving, setSaving] = useState(false)
  useEffect(() => {
    if (data) setClient(data.client_config)
  }, [data])
  const set = (k: string, v: unknown) => setClient((c) => ({ ...c, [k]: v }))
  const save = async () => {
    setSaving(true)
    try {
      await put('/api/config', { client_config: client })
      notifications.show({ color: 'green', message: 'Settings saved' })
      void reload()
    } catch (err) {
      notifications.show({ color: 'red', title: 'Not saved', message: errorText(err) })
    } finally {
      setSaving(false)
    }
  }
  const flag = (k: string, label: string) => (
    <Switch label={label} checked={client[k] === true} onChange={(e) => set(k, e.currentTarget.checked)} />
  )
  return (
    <>
      <PageHeader
        title="Settings"
        description="The gateway's client configuration, admin login and stores."
        actions={
          <Button onClick={save} loading={saving}>
            Save
          </Button>
        }
      />
      <ErrorNote error={error} />
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
            {flag('enable_logging', 'Log requests')}
            {flag('disable_content_logging', 'Leave message contents out of the logs')}
            {flag('enforce_auth_on_inference', 'Require a virtual key on every inference request')}
            <NumberInput
              label="Initial pool size"
              value={Number(client.initial_pool_size ?? 300)}
              onChange={(v) => set('initial_pool_size', Number(v))}
              min={1}
            />
            <NumberInput
              label="Log retention (days)"
              value={Number(client.log_retention_days ?? 365)}
              onChange={(v) => set('log_retention_days', Number(v))}
              min={1}
            />
            <TagsInput
              label="Allowed origins (CORS)"
              value={(client.allowed_origins as string[]) ?? []}
              onChange={(v) => set('allowed_origins', v)}
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
                <Group key={label} justify="space-between">
                  <Text size="sm">{label}</Text>
                  <Badge color={ok ? 'green' : 'gray'}>{ok ? 'connected' : 'not connected'}</Badge>
                </Group>
              ))}
            </Stack>
          </Paper>
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
