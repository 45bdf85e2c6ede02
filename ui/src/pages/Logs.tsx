import {
  Badge,
  Code,
  Drawer,
  Group,
  MultiSelect,
  Pagination,
  Paper,
  ScrollArea,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core'
import { useDebouncedValue } from '@mantine/hooks'
import { useEffect, useMemo, useState } from 'react'
import { money } from '../api'
import { Empty, ErrorNote, PageHeader } from '../components'
import { useApi } from '../hooks'

export interface LogEntry {
  id: string
  timestamp: string
  object: string
  provider: string
  model: string
  status: 'success' | 'error'
  latency: number
  total_tokens?: number
  input_tokens?: number
  output_tokens?: number
  cost: number | null
  virtual_key_name?: string | null
  team_name?: string | null
  fallback_index?: number
  number_of_retries?: number
  error_details?: { error?: { message?: string } }
  attempt_trail?: {
    provider: string
    model: string
    key_id?: string
    fallback_index: number
    latency: number
    error?: { code?: string; status?: number; message?: string }
  }[]
  request?: unknown
  response?: unknown
}
interface LogsAnswer {
  logs: LogEntry[]
  pagination: { total_count: number }
}
interface FilterData {
  providers: string[]
  models: { id: string; name: string }[]
}

const PAGE = 50

/** A request refused before routing has no provider: its model is all there is. */
const providerModel = (l: LogEntry) => (l.provider ? `${l.provider}/${l.model}` : l.model)

export function LogsPage() {
  const [search, setSearch] = useState('')
  const [debounced] = useDebouncedValue(search, 300)
  const [providers, setProviders] = useState<string[]>([])
  const [models, setModels] = useState<string[]>([])
  const [status, setStatus] = useState<string | null>(null)
  const [page, setPage] = useState(1)
  const [live, setLive] = useState(false)
  const [liveRows, setLiveRows] = useState<LogEntry[]>([])
  const [liveState, setLiveState] = useState<'connecting' | 'open' | 'closed'>('closed')
  const [selected, setSelected] = useState<string>()
  const filters = useMemo(() => {
    const q = new URLSearchParams()
    if (debounced) q.set('content_search', debounced)
    if (providers.length) q.set('providers', providers.join(','))
    if (models.length) q.set('models', models.join(','))
    if (status) q.set('status', status)
    return q.toString()
  }, [debounced, providers, models, status])
  useEffect(() => setPage(1), [filters])
  const { data, error } = useApi<LogsAnswer>(`/api/logs?limit=${PAGE}&offset=${(page - 1) * PAGE}&${filters}`)
  const filterData = useApi<FilterData>('/api/logs/filterdata')

  useEffect(() => {
    if (!live) return
    setLiveRows([])
    const proto = location.protocol === 'https:' ? 'wss' : 'ws'
    // The session cookie authenticates the socket: a browser cannot set headers on it.
    const ws = new WebSocket(`${proto}://${location.host}/ws/logs?${filters}`)
    setLiveState('connecting')
    ws.onopen = () => setLiveState('open')
    ws.onclose = () => setLiveState('closed')
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as { type: string; payload: LogEntry }
      if (msg.type === 'log') setLiveRows((rows) => [msg.payload, ...rows].slice(0, 500))
    }
    return () => {
      ws.onclose = null
      ws.close()
      setLiveState('closed')
    }
  }, [live, filters])

  const rows = live
    ? [...liveRows, ...(data?.logs ?? []).filter((l) => !liveRows.some((r) => r.id === l.id))]
    : (data?.logs ?? [])
  const total = data?.pagination.total_count ?? 0
  return (
    <>
      <PageHeader
        title="Logs"
        description="Every request through the gateway, newest first."
        actions={
          <Group gap="xs">
            {live && (
              <Badge
                variant="dot"
                color={liveState === 'open' ? 'green' : liveState === 'connecting' ? 'yellow' : 'red'}
                data-testid="live-state"
              >
                {liveState === 'open'
                  ? 'live'
                  : liveState === 'connecting'
                    ? 'connecting'
                    : 'disconnected: turn live off and on'}
              </Badge>
            )}
            <Switch label="Live tail" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} />
          </Group>
        }
      />
      <Group mb="md" align="flex-end" wrap="wrap">
        <TextInput
          label="Search"
          placeholder="text in prompts, answers, errors"
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          w={280}
          name="log-search"
        />
        <MultiSelect
          label="Providers"
          data={filterData.data?.providers ?? []}
          value={providers}
          onChange={setProviders}
          w={200}
          clearable
        />
        <MultiSelect
          label="Models"
          data={(filterData.data?.models ?? []).map((m) => m.name)}
          value={models}
          onChange={setModels}
          w={220}
          clearable
          searchable
        />
        <Select
          label="Status"
          data={['success', 'error']}
          value={status}
          onChange={setStatus}
          w={130}
          clearable
        />
      </Group>
      <ErrorNote error={error} />
      {data && rows.length === 0 && (
        <Empty
          title="No log matches"
          hint={
            filters
              ? 'Clear the filters, or send a request from the Playground.'
              : 'Send a request from the Playground; it appears here.'
          }
        />
      )}
      {rows.length > 0 && (
        <Table.ScrollContainer minWidth={760}>
          <Table highlightOnHover verticalSpacing={6} data-testid="logs-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Time</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Provider / model</Table.Th>
                <Table.Th>Key</Table.Th>
                <Table.Th>Latency</Table.Th>
                <Table.Th>Tokens</Table.Th>
                <Table.Th>Cost</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((l) => (
                <Table.Tr
                  key={l.id}
                  onClick={() => setSelected(l.id)}
                  style={{ cursor: 'pointer' }}
                  data-testid="log-row"
                >
                  <Table.Td>
                    <Text size="sm">{new Date(l.timestamp).toLocaleString()}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge size="sm" color={l.status === 'success' ? 'teal' : 'red'}>
                      {l.status}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{providerModel(l)}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{l.virtual_key_name ?? '—'}</Text>
                  </Table.Td>
                  <Table.Td>{Math.round(l.latency)} ms</Table.Td>
                  <Table.Td>{l.total_tokens ?? '—'}</Table.Td>
                  <Table.Td>{money(l.cost)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {total > PAGE && (
        <Group justify="space-between" mt="md">
          <Text size="sm" c="dimmed">
            {total.toLocaleString()} entries
          </Text>
          <Pagination total={Math.ceil(total / PAGE)} value={page} onChange={setPage} siblings={1} />
        </Group>
      )}
      <LogDrawer id={selected} onClose={() => setSelected(undefined)} />
    </>
  )
}

function LogDrawer({ id, onClose }: { id?: string; onClose: () => void }) {
  const { data: l, error } = useApi<LogEntry>(id ? `/api/logs/${id}` : null)
  return (
    <Drawer
      opened={!!id}
      onClose={onClose}
      position="right"
      size="xl"
      title="Request"
      scrollAreaComponent={ScrollArea.Autosize}
    >
      <ErrorNote error={error} />
      {l && l.id === id && (
        <Stack>
          <SimpleGrid cols={3}>
            <Field label="Status" value={l.status} />
            <Field label="Latency" value={`${Math.round(l.latency)} ms`} />
            <Field label="Cost" value={money(l.cost)} />
            <Field label="Provider / model" value={providerModel(l)} />
            <Field label="Tokens in / out" value={`${l.input_tokens ?? 0} / ${l.output_tokens ?? 0}`} />
            <Field
              label="Fallback / retries"
              value={`${l.fallback_index ?? 0} / ${l.number_of_retries ?? 0}`}
            />
          </SimpleGrid>
          {l.error_details?.error?.message && <ErrorNote error={l.error_details.error.message} />}
          {(l.attempt_trail?.length ?? 0) > 0 && (
            <Paper withBorder p="sm">
              <Title order={6} mb="xs">
                Attempts
              </Title>
              {l.attempt_trail!.map((a, i) => (
                <Text size="sm" key={i}>
                  {i + 1}. {a.provider}/{a.model} {a.key_id && `(${a.key_id})`} · {Math.round(a.latency)} ms ·{' '}
                  {a.error ? `failed: ${a.error.message ?? a.error.code}` : 'ok'}
                </Text>
              ))}
            </Paper>
          )}
          <Title order={6}>Request</Title>
          <Code block>{JSON.stringify(l.request ?? '(content logging is off)', null, 2)}</Code>
          <Title order={6}>Response</Title>
          <Code block>{JSON.stringify(l.response ?? null, null, 2)}</Code>
        </Stack>
      )}
    </Drawer>
  )
}

function Field({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text size="sm" fw={500}>
        {value}
      </Text>
    </div>
  )
}
