import { Badge, Group, MultiSelect, Pagination, Select, Switch, Table, Text, TextInput } from '@mantine/core'
import { useDebouncedValue } from '@mantine/hooks'
import { useEffect, useState } from 'react'
import { Empty, ErrorNote, Loading, PageHeader, WideTable } from '../components'
import { formatDateTime, formatMoney, formatMs, formatNumber } from '../format'
import { useApi } from '../hooks'
import { PERIODS, useUrlFilters } from '../url-filters'
import { cacheHit, LogDrawer, providerModel, statusCode, type LogEntry } from './LogDrawer'

export type { LogEntry } from './LogDrawer'

interface LogsAnswer {
  logs: LogEntry[]
  pagination: { total_count: number }
}
interface Named {
  id: string
  name: string
}
interface FilterData {
  providers: string[]
  models: Named[]
  objects: string[]
  routes?: string[]
  virtual_keys: Named[]
  teams: Named[]
  customers: Named[]
}

const PAGE = 50

/** The filters kept in the page's URL, each a query parameter of /api/logs. */
const LIST_FILTERS = [
  'providers',
  'models',
  'objects',
  'virtual_key_ids',
  'team_ids',
  'customer_ids',
  'routes',
  'status_codes',
  'cache_hit_types',
] as const
type ListFilter = (typeof LIST_FILTERS)[number]

/** The HTTP statuses a gateway answers most: 200, the client errors, the provider and gateway failures. */
const STATUS_CODES = [
  '200',
  '400',
  '401',
  '403',
  '404',
  '408',
  '413',
  '422',
  '429',
  '500',
  '502',
  '503',
  '504',
]

const options = (items: Named[] | undefined) =>
  (items ?? []).map((i) => ({ value: i.id, label: i.name || i.id }))

const NUM = { ta: 'right' } as const

export function LogsPage() {
  const { params, update, list, page, entry: selected, query } = useUrlFilters()
  const [search, setSearch] = useState(params.get('content_search') ?? '')
  const [debounced] = useDebouncedValue(search, 300)
  useEffect(() => {
    if (debounced !== (params.get('content_search') ?? '')) update('content_search', debounced)
  }, [debounced])
  const [live, setLive] = useState(false)
  const [liveRows, setLiveRows] = useState<LogEntry[]>([])
  const [liveState, setLiveState] = useState<'connecting' | 'open' | 'closed'>('closed')
  const filters = query([...LIST_FILTERS, 'status', 'period', 'content_search'])
  const { data, error, loading } = useApi<LogsAnswer>(
    `/api/logs?limit=${PAGE}&offset=${(page - 1) * PAGE}&${filters}`,
  )
  const filterData = useApi<FilterData>('/api/logs/filterdata').data

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
  const multi = (name: ListFilter, label: string, data: { value: string; label: string }[], w = 200) => (
    <MultiSelect
      label={label}
      data={data}
      value={list(name)}
      onChange={(v) => update(name, v.join(','))}
      w={w}
      clearable
      searchable
      name={name}
    />
  )
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
      <Group mb="md" align="flex-end" wrap="wrap" gap="sm">
        <TextInput
          label="Search"
          placeholder="text in prompts, answers, errors"
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          w={240}
          name="log-search"
        />
        <Select
          label="Time range"
          placeholder="All time"
          data={PERIODS}
          value={params.get('period')}
          onChange={(v) => update('period', v)}
          w={170}
          clearable
          name="period"
        />
        <Select
          label="Status"
          data={['success', 'error']}
          value={params.get('status')}
          onChange={(v) => update('status', v)}
          w={120}
          clearable
          name="status"
        />
        {multi('virtual_key_ids', 'Virtual keys', options(filterData?.virtual_keys))}
        {multi('team_ids', 'Teams', options(filterData?.teams), 170)}
        {multi('customer_ids', 'Customers', options(filterData?.customers), 170)}
        {multi(
          'providers',
          'Providers',
          filterData?.providers.map((p) => ({ value: p, label: p })) ?? [],
          170,
        )}
        {multi(
          'models',
          'Models',
          (filterData?.models ?? []).map((m) => ({ value: m.name, label: m.name })),
        )}
        {multi(
          'objects',
          'Request type',
          (filterData?.objects ?? []).map((o) => ({ value: o, label: o })),
        )}
        {multi(
          'routes',
          'Routes',
          (filterData?.routes ?? []).map((r) => ({ value: r, label: r })),
          240,
        )}
        {multi(
          'status_codes',
          'Status codes',
          // A code from a shared link stays choosable even when it is not a common one.
          [...new Set([...STATUS_CODES, ...list('status_codes')])].map((c) => ({ value: c, label: c })),
          150,
        )}
        {multi(
          'cache_hit_types',
          'Cache hits',
          [
            { value: 'direct', label: 'exact (direct)' },
            { value: 'semantic', label: 'by meaning (semantic)' },
          ],
          190,
        )}
      </Group>
      <ErrorNote error={error} />
      {loading && !data && <Loading what="logs" />}
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
        <WideTable minWidth={820} label="Request logs">
          <Table highlightOnHover verticalSpacing={6} data-testid="logs-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Time</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Provider / model</Table.Th>
                <Table.Th>Key</Table.Th>
                <Table.Th {...NUM}>Latency</Table.Th>
                <Table.Th {...NUM}>Tokens</Table.Th>
                <Table.Th {...NUM}>Cost</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody style={{ opacity: loading ? 0.6 : 1 }}>
              {rows.map((l) => (
                <Table.Tr
                  key={l.id}
                  onClick={() => update('entry', l.id)}
                  style={{ cursor: 'pointer' }}
                  data-testid="log-row"
                >
                  <Table.Td>
                    <a
                      href={`/logs?entry=${encodeURIComponent(l.id)}`}
                      onClick={(e) => {
                        // A plain click opens the panel; a modifier click opens the link in a new tab.
                        if (e.metaKey || e.ctrlKey || e.shiftKey) e.stopPropagation()
                        else e.preventDefault()
                      }}
                      style={{ color: 'inherit', textDecoration: 'none' }}
                    >
                      <Text size="sm">{formatDateTime(l.timestamp, true)}</Text>
                    </a>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Badge size="sm" color={l.status === 'success' ? 'teal' : 'red'}>
                        {l.status === 'success' ? l.status : `${statusCode(l)} ${l.status}`}
                      </Badge>
                      {cacheHit(l) && (
                        <Badge size="sm" variant="light" color="grape" data-testid="cache-hit">
                          cache {cacheHit(l)}
                        </Badge>
                      )}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{providerModel(l)}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{l.virtual_key_name ?? '—'}</Text>
                  </Table.Td>
                  <Table.Td {...NUM}>{formatMs(l.latency)}</Table.Td>
                  <Table.Td {...NUM}>{formatNumber(l.total_tokens)}</Table.Td>
                  <Table.Td {...NUM}>{formatMoney(l.cost)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </WideTable>
      )}
      {total > 0 && (
        <Group justify="space-between" mt="md">
          <Text size="sm" c="dimmed" data-testid="logs-total">
            {formatNumber(total)} {total === 1 ? 'entry' : 'entries'}
          </Text>
          {total > PAGE && (
            <Pagination
              total={Math.ceil(total / PAGE)}
              value={page}
              onChange={(p) => update('page', String(p))}
              siblings={1}
            />
          )}
        </Group>
      )}
      <LogDrawer id={selected} onClose={() => update('entry', null)} />
    </>
  )
}
