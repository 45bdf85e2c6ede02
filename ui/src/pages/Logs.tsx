import { Badge, Group, Switch, Text, TextInput } from '@mantine/core'
import { useDebouncedValue } from '@mantine/hooks'
import { useEffect, useState } from 'react'
import { PageHeader } from '../components'
import { formatDateTime, formatMoney, formatMs, formatNumber } from '../format'
import { useApi } from '../hooks'
import { LogTable, PeriodFilter, StatusFilter, UrlMultiSelect, type Column } from '../list-page'
import { useUrlFilters } from '../url-filters'
import { cacheHit, LogDrawer, providerModel, statusCode, type LogEntry } from './LogDrawer'
import { bindText, bindChecked } from '../form'

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

export function LogsPage() {
  const urlFilters = useUrlFilters()
  const { params, update, list, page, query } = urlFilters
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
    <UrlMultiSelect filters={urlFilters} name={name} label={label} data={data} w={w} />
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
            <Switch label="Live tail" {...bindChecked(live, setLive)} />
          </Group>
        }
      />
      <Group mb="md" align="flex-end" wrap="wrap" gap="sm">
        <TextInput
          label="Search"
          placeholder="text in prompts, answers, errors"
          {...bindText(search, setSearch)}
          w={240}
          name="log-search"
        />
        <PeriodFilter filters={urlFilters} />
        <StatusFilter filters={urlFilters} />
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
      <LogTable
        filters={urlFilters}
        total={total}
        perPage={PAGE}
        noun={['entry', 'entries']}
        countTestId="logs-total"
        rows={data && rows}
        error={error}
        what="logs"
        empty={{
          title: 'No log matches',
          hint: filters
            ? 'Clear the filters, or send a request from the Playground.'
            : 'Send a request from the Playground; it appears here.',
        }}
        label="Request logs"
        minWidth={820}
        testId="logs-table"
        busy={loading}
        rowTestId="log-row"
        columns={COLUMNS}
        drawer={LogDrawer}
      />
    </>
  )
}

const COLUMNS: Column<LogEntry>[] = [
  {
    header: 'Time',
    cell: (l) => (
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
    ),
  },
  {
    header: 'Status',
    cell: (l) => (
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
    ),
  },
  { header: 'Provider / model', cell: (l) => <Text size="sm">{providerModel(l)}</Text> },
  { header: 'Key', cell: (l) => <Text size="sm">{l.virtual_key_name ?? '—'}</Text> },
  { header: 'Latency', ta: 'right', cell: (l) => formatMs(l.latency) },
  { header: 'Tokens', ta: 'right', cell: (l) => formatNumber(l.total_tokens) },
  { header: 'Cost', ta: 'right', cell: (l) => formatMoney(l.cost) },
]
