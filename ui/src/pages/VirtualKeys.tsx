import {
  Badge,
  Button,
  Code,
  CopyButton,
  Group,
  Modal,
  MultiSelect,
  NumberInput,
  Progress,
  Select,
  Stack,
  Table,
  TagsInput,
  Text,
  TextInput,
} from '@mantine/core'
import { notifications } from '@mantine/notifications'
import { useState } from 'react'
import { del, errorText, money, post, put } from '../api'
import { Empty, ErrorNote, PageHeader } from '../components'
import { useApi } from '../hooks'

export interface Budget {
  max_limit: number
  current_usage?: number
  reset_duration: string
  last_reset?: string
}
interface RateLimit {
  request_max_limit?: number | null
  request_current_usage?: number
  token_max_limit?: number | null
  token_current_usage?: number
}
interface VirtualKey {
  id: string
  name: string
  value: string
  is_active: boolean
  team_id?: string | null
  team?: { name: string }
  budgets?: Budget[]
  rate_limit?: RateLimit | null
  provider_configs?: { provider: string; allowed_models?: string[] }[]
  mcp_configs?: { mcp_client_name: string; tools_to_execute?: string[] }[]
}

const DURATIONS = ['1m', '1h', '1d', '1w', '1M']

export function UsageBar({ used, max, label }: { used: number; max: number; label: string }) {
  const pct = max > 0 ? Math.min(100, (used / max) * 100) : 0
  return (
    <div>
      <Group justify="space-between" gap={4}>
        <Text size="xs">{label}</Text>
        <Text size="xs" c="dimmed">
          {Math.round(pct)}%
        </Text>
      </Group>
      <Progress value={pct} color={pct >= 100 ? 'red' : pct > 80 ? 'orange' : 'indigo'} size="sm" />
    </div>
  )
}

export function nextReset(b: Budget): string {
  if (!b.last_reset) return ''
  const unit: Record<string, number> = {
    m: 60e3,
    h: 3600e3,
    d: 86400e3,
    w: 7 * 86400e3,
    M: 30 * 86400e3,
    Y: 365 * 86400e3,
  }
  const m = /^(\d+)([mhdwMY])$/.exec(b.reset_duration)
  if (!m) return ''
  return new Date(Date.parse(b.last_reset) + Number(m[1]) * unit[m[2]]).toLocaleString()
}

export function VirtualKeysPage() {
  const { data, error, reload } = useApi<{ virtual_keys: VirtualKey[] }>('/api/governance/virtual-keys')
  const teams = useApi<{ teams: { id: string; name: string }[] }>('/api/governance/teams')
  const [creating, setCreating] = useState(false)
  const [shown, setShown] = useState<{ name: string; value: string }>()
  const keys = data?.virtual_keys ?? []
  const act = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what()
      notifications.show({ color: 'green', message: done })
      await reload()
    } catch (err) {
      notifications.show({ color: 'red', title: 'That did not work', message: errorText(err) })
    }
  }
  return (
    <>
      <PageHeader
        title="Virtual keys"
        description="Keys your applications use: which providers and models they reach, their budgets and rate limits."
        actions={<Button onClick={() => setCreating(true)}>Create virtual key</Button>}
      />
      <ErrorNote error={error} />
      {data && keys.length === 0 && (
        <Empty
          title="No virtual key yet"
          hint="Create one, then send it as the Authorization bearer or x-bf-vk header."
        />
      )}
      {keys.length > 0 && (
        <Table.ScrollContainer minWidth={760}>
          <Table verticalSpacing="sm" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Key</Table.Th>
                <Table.Th>Team</Table.Th>
                <Table.Th>Usage</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {keys.map((k) => (
                <Table.Tr key={k.id}>
                  <Table.Td>
                    <Text fw={500}>{k.name}</Text>
                    <Text size="xs" c="dimmed">
                      {(k.provider_configs ?? [])
                        .map((p) => `${p.provider}: ${(p.allowed_models ?? ['*']).join(', ')}`)
                        .join(' · ') || 'no provider'}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Code style={{ whiteSpace: 'nowrap' }}>{k.value}</Code>
                  </Table.Td>
                  <Table.Td>
                    {k.team?.name ?? teams.data?.teams.find((t) => t.id === k.team_id)?.name ?? '—'}
                  </Table.Td>
                  <Table.Td miw={200}>
                    <Stack gap={6}>
                      {(k.budgets ?? []).map((b, i) => (
                        <div key={i} title={nextReset(b) && `Resets ${nextReset(b)}`}>
                          <UsageBar
                            used={b.current_usage ?? 0}
                            max={b.max_limit}
                            label={`${money(b.current_usage ?? 0)} of ${money(b.max_limit)} / ${b.reset_duration}`}
                          />
                        </div>
                      ))}
                      {k.rate_limit?.request_max_limit ? (
                        <UsageBar
                          used={k.rate_limit.request_current_usage ?? 0}
                          max={k.rate_limit.request_max_limit}
                          label={`${k.rate_limit.request_current_usage ?? 0} of ${k.rate_limit.request_max_limit} requests`}
                        />
                      ) : null}
                      {!k.budgets?.length && !k.rate_limit?.request_max_limit && (
                        <Text size="xs" c="dimmed">
                          no limit
                        </Text>
                      )}
                    </Stack>
                  </Table.Td>
                  <Table.Td>
                    <Badge color={k.is_active ? 'green' : 'gray'}>
                      {k.is_active ? 'active' : 'inactive'}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button
                        size="compact-xs"
                        variant="light"
                        onClick={() =>
                          act(
                            async () =>
                              setShown({
                                name: k.name,
                                value: (
                                  await post<{ virtual_key: VirtualKey }>(
                                    `/api/governance/virtual-keys/${k.id}/rotate`,
                                  )
                                ).virtual_key.value,
                              }),
                            'Key rotated',
                          )
                        }
                      >
                        Rotate
                      </Button>
                      <Button
                        size="compact-xs"
                        variant="default"
                        onClick={() =>
                          act(
                            () => put(`/api/governance/virtual-keys/${k.id}`, { is_active: !k.is_active }),
                            k.is_active ? 'Key deactivated' : 'Key activated',
                          )
                        }
                      >
                        {k.is_active ? 'Deactivate' : 'Activate'}
                      </Button>
                      <Button
                        size="compact-xs"
                        variant="subtle"
                        color="red"
                        onClick={() => act(() => del(`/api/governance/virtual-keys/${k.id}`), 'Key deleted')}
                      >
                        Delete
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <CreateKey
        opened={creating}
        teams={teams.data?.teams ?? []}
        onClose={() => setCreating(false)}
        onCreated={(vk) => {
          setShown(vk)
          void reload()
        }}
      />
      <Modal opened={!!shown} onClose={() => setShown(undefined)} title="Copy your key now">
        <Stack>
          <Text size="sm">This is the only time the full value of {shown?.name} is shown.</Text>
          <Code block data-testid="vk-value">
            {shown?.value}
          </Code>
          <CopyButton value={shown?.value ?? ''}>
            {({ copied, copy }) => (
              <Button color={copied ? 'teal' : 'indigo'} onClick={copy}>
                {copied ? 'Copied' : 'Copy key'}
              </Button>
            )}
          </CopyButton>
        </Stack>
      </Modal>
    </>
  )
}

function CreateKey({
  opened,
  teams,
  onClose,
  onCreated,
}: {
  opened: boolean
  teams: { id: string; name: string }[]
  onClose: () => void
  onCreated: (vk: { name: string; value: string }) => void
}) {
  const [name, setName] = useState('')
  const [team, setTeam] = useState<string | null>(null)
  const providerList = useApi<{ providers: { name: string }[] }>(opened ? '/api/providers' : null)
  const names = (providerList.data?.providers ?? []).map((p) => p.name)
  const [chosen, setChosen] = useState<string[] | undefined>(undefined)
  const providers = chosen ?? names
  const [models, setModels] = useState<string[]>([])
  const [budget, setBudget] = useState<number | string>('')
  const [reset, setReset] = useState<string | null>('1d')
  const [requests, setRequests] = useState<number | string>('')
  const [mcpTools, setMcpTools] = useState<string[]>([])
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const submit = async () => {
    setBusy(true)
    setError(undefined)
    try {
      const body: Record<string, unknown> = { name }
      if (team) body.team_id = team
      body.provider_configs = providers.map((provider) => ({
        provider,
        allowed_models: models.length ? models : ['*'],
        key_ids: ['*'],
      }))
      if (budget !== '') body.budgets = [{ max_limit: Number(budget), reset_duration: reset ?? '1d' }]
      if (requests !== '')
        body.rate_limit = { request_max_limit: Number(requests), request_reset_duration: '1h' }
      if (mcpTools.length)
        body.mcp_configs = mcpTools.map((t) => {
          const [client, tool] = t.split('/')
          return { mcp_client_name: client, tools_to_execute: [tool ?? '*'] }
        })
      const res = await post<{ virtual_key: { name: string; value: string } }>(
        '/api/governance/virtual-keys',
        body,
      )
      onCreated(res.virtual_key)
      onClose()
      setName('')
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <Modal opened={opened} onClose={onClose} title="Create virtual key" size="lg">
      <Stack>
        <TextInput
          label="Name"
          name="vk-name"
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          required
        />
        <Select
          label="Team"
          placeholder="none"
          data={teams.map((t) => ({ value: t.id, label: t.name }))}
          value={team}
          onChange={setTeam}
          clearable
          name="vk-team"
        />
        <Group grow>
          <MultiSelect
            label="Providers"
            placeholder={names.length ? 'none: the key reaches no provider' : 'add a provider first'}
            data={names}
            value={providers}
            onChange={setChosen}
          />
          <TagsInput label="Allowed models" placeholder="* for all" value={models} onChange={setModels} />
        </Group>
        <Group grow>
          <NumberInput
            label="Budget (USD)"
            name="vk-budget"
            value={budget}
            onChange={setBudget}
            min={0}
            decimalScale={6}
          />
          <Select label="Resets every" data={DURATIONS} value={reset} onChange={setReset} />
          <NumberInput label="Requests per hour" value={requests} onChange={setRequests} min={1} />
        </Group>
        <TagsInput
          label="MCP tools allowed"
          description="client/tool, or client/* for all of a client's tools"
          value={mcpTools}
          onChange={setMcpTools}
        />
        <ErrorNote error={error} />
        <Button onClick={submit} loading={busy}>
          Create
        </Button>
      </Stack>
    </Modal>
  )
}
