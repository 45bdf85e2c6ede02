import { BarChart, LineChart } from '@mantine/charts'
import { Group, Paper, SegmentedControl, SimpleGrid, Table, Text, Title } from '@mantine/core'
import { useMemo, useState } from 'react'
import { Empty, ErrorNote, Loading, PageHeader, WideTable } from '../components'
import {
  formatCompact,
  formatDateTime,
  formatMoney,
  formatMoneyShort,
  moneyTicks,
  formatMs,
  formatNumber,
  formatPercent,
  formatTime,
} from '../format'
import { useApi } from '../hooks'
import { FirstRunChecklist } from './FirstRun'

const RANGES = [
  { value: '1h', label: '1 hour', ms: 3600e3 },
  { value: '24h', label: '24 hours', ms: 86400e3 },
  { value: '7d', label: '7 days', ms: 7 * 86400e3 },
  { value: '30d', label: '30 days', ms: 30 * 86400e3 },
]
const DIMENSIONS = [
  { value: 'provider', label: 'Provider' },
  { value: 'model', label: 'Model' },
  { value: 'virtual_key_id', label: 'Key' },
  { value: 'team_id', label: 'Team' },
  { value: 'customer_id', label: 'Customer' },
]

interface Stats {
  total_requests: number
  success_rate: number
  average_latency: number
  total_tokens: number
  total_cost: number
  cache_hits?: number
  cache_hit_rate?: number
  cache_saved_cost?: number
}
interface Buckets<T> {
  buckets: (T & { timestamp: string | number })[]
  bucket_size_seconds: number
}
interface BreakdownRow {
  [k: string]: unknown
  total_requests: number
  errors: number
  total_tokens: number
  total_cost: number
  p50_latency: number
  p99_latency: number
}

/** A bucket's label: the time of day within one hour, the date too beyond (a 24 h axis crosses midnight). */
function label(ts: string | number, rangeMs: number) {
  const d = new Date(typeof ts === 'number' && ts < 1e12 ? ts * 1000 : ts)
  if (rangeMs <= 3600e3) return formatTime(d)
  if (rangeMs <= 86400e3) return formatDateTime(d)
  return d.toLocaleDateString('en-US', { month: 'short', day: 'numeric' })
}

/** Who a breakdown row is: the name the logs recorded for an id, or the id when none was. */
interface Named {
  id: string
  name?: string
}

function Stat({ title, value }: { title: string; value: string }) {
  return (
    <Paper withBorder p="md" radius="md">
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {title}
      </Text>
      <Text size="xl" fw={700} mt={4} data-testid={`stat-${title.toLowerCase().replace(/\s+/g, '-')}`}>
        {value}
      </Text>
    </Paper>
  )
}

function Chart({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <Paper withBorder p="md" radius="md" data-testid={`chart-${title.split(' ')[0].toLowerCase()}`}>
      <Text fw={600} mb="sm">
        {title}
      </Text>
      {children}
    </Paper>
  )
}

/** A money axis as wide as its longest label: ticks 1, 2 or 5 × 10ⁿ apart (see `moneyTicks`). */
function moneyAxis(max: number) {
  const ticks = moneyTicks(max)
  const longest = Math.max(...ticks.map((t) => formatMoneyShort(t).length))
  return {
    tickFormatter: formatMoneyShort,
    ticks,
    domain: [0, ticks[ticks.length - 1]],
    interval: 0 as const,
    width: longest * 8 + 8,
  }
}

/** Counts stacked per bucket (requests, tokens): a count has no fractions, so its axis ticks on integers. */
function CountChart({
  title,
  data,
  series,
}: {
  title: string
  data: Record<string, unknown>[]
  series: { name: string; label?: string; color: string }[]
}) {
  return (
    <Chart title={title}>
      <BarChart
        h={220}
        data={data}
        dataKey="time"
        type="stacked"
        withLegend
        valueFormatter={formatNumber}
        yAxisProps={{ tickFormatter: formatCompact, width: 44, allowDecimals: false }}
        series={series}
      />
    </Chart>
  )
}

export function DashboardPage() {
  const [range, setRange] = useState('24h')
  const [dimension, setDimension] = useState('provider')
  // The range is fixed when it is picked, so every chart covers the same window.
  const rangeMs = RANGES.find((r) => r.value === range)!.ms
  const query = useMemo(() => {
    const end = new Date()
    return `start_time=${new Date(end.getTime() - rangeMs).toISOString()}&end_time=${end.toISOString()}`
  }, [rangeMs])
  const stats = useApi<Stats>(`/api/logs/stats?${query}`)
  const requests = useApi<Buckets<{ count: number; success: number; error: number }>>(
    `/api/logs/histogram?${query}`,
  )
  const latency = useApi<Buckets<{ p50_latency: number; p90_latency: number; p99_latency: number }>>(
    `/api/logs/histogram/latency?${query}`,
  )
  const tokens = useApi<Buckets<{ prompt_tokens: number; completion_tokens: number }>>(
    `/api/logs/histogram/tokens?${query}`,
  )
  const cost = useApi<Buckets<{ total_cost: number }>>(`/api/logs/histogram/cost?${query}`)
  const breakdown = useApi<{ rows: BreakdownRow[] }>(`/api/logs/breakdown?dimension=${dimension}&${query}`)
  const names =
    useApi<Record<'virtual_keys' | 'teams' | 'customers', Named[] | undefined>>('/api/logs/filterdata')
  const series = <T,>(b: Buckets<T> | undefined) =>
    (b?.buckets ?? []).map((x) => ({ ...x, time: label(x.timestamp, rangeMs) }))
  const nameOf = (id: unknown): string => {
    if (id === null || id === undefined || id === '') return '(none)'
    const list = { virtual_key_id: 'virtual_keys', team_id: 'teams', customer_id: 'customers' }[dimension] as
      'virtual_keys' | 'teams' | 'customers' | undefined
    const found = list ? names.data?.[list]?.find((n) => n.id === id) : undefined
    return found?.name || String(id)
  }
  const s = stats.data
  const none = s !== undefined && s.total_requests === 0
  return (
    <>
      <PageHeader
        title="Dashboard"
        description="Requests, errors, latency, tokens and cost from the request logs."
        actions={
          <SegmentedControl
            data={RANGES.map(({ value, label }) => ({ value, label }))}
            value={range}
            onChange={setRange}
          />
        }
      />
      <FirstRunChecklist />
      <ErrorNote error={stats.error} />
      <SimpleGrid cols={{ base: 2, md: 4, xl: 7 }} mb="lg">
        <Stat title="Requests" value={formatNumber(s?.total_requests)} />
        {/* Without a request there is no rate to show: a dash, not 0.0%. */}
        <Stat title="Success rate" value={none ? '—' : formatPercent(s?.success_rate)} />
        <Stat title="Avg latency" value={none ? '—' : formatMs(s?.average_latency)} />
        <Stat title="Tokens" value={formatNumber(s?.total_tokens)} />
        <Stat title="Cost" value={formatMoney(s?.total_cost)} />
        <Stat title="Cache hit rate" value={none ? '—' : formatPercent(s?.cache_hit_rate)} />
        <Stat title="Saved by cache" value={formatMoney(s?.cache_saved_cost ?? 0)} />
      </SimpleGrid>
      {none && <Empty title="No request in this range" hint="Widen the time range to see older requests." />}
      <SimpleGrid cols={{ base: 1, lg: 2 }} mt="md">
        <CountChart
          title="Requests"
          data={series(requests.data)}
          series={[
            { name: 'success', color: 'teal.6' },
            { name: 'error', color: 'red.6' },
          ]}
        />
        <Chart title="Latency percentiles">
          {/* Straight segments between buckets: a curve would invent peaks between sparse points. */}
          <LineChart
            h={220}
            data={series(latency.data)}
            dataKey="time"
            curveType="linear"
            withLegend
            connectNulls={false}
            valueFormatter={formatMs}
            yAxisProps={{ tickFormatter: (v: number) => formatMs(v), width: 56 }}
            series={[
              { name: 'p50_latency', label: 'p50', color: 'indigo.6' },
              { name: 'p90_latency', label: 'p90', color: 'violet.6' },
              { name: 'p99_latency', label: 'p99', color: 'pink.6' },
            ]}
          />
        </Chart>
        <CountChart
          title="Tokens"
          data={series(tokens.data)}
          series={[
            { name: 'prompt_tokens', label: 'prompt', color: 'blue.6' },
            { name: 'completion_tokens', label: 'completion', color: 'cyan.6' },
          ]}
        />
        <Chart title="Cost (USD)">
          <BarChart
            h={220}
            data={series(cost.data)}
            dataKey="time"
            withLegend
            valueFormatter={formatMoney}
            yAxisProps={moneyAxis(Math.max(0, ...(cost.data?.buckets ?? []).map((b) => b.total_cost)))}
            series={[{ name: 'total_cost', label: 'cost', color: 'orange.6' }]}
          />
        </Chart>
      </SimpleGrid>
      <Paper withBorder p="md" radius="md" mt="md">
        <Group justify="space-between" mb="sm">
          <Title order={5}>Breakdown</Title>
          <SegmentedControl size="xs" data={DIMENSIONS} value={dimension} onChange={setDimension} />
        </Group>
        <ErrorNote error={breakdown.error} />
        {!breakdown.data && !breakdown.error && <Loading what="the breakdown" />}
        <WideTable minWidth={560} label="Breakdown">
          <Table data-testid="breakdown">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{DIMENSIONS.find((d) => d.value === dimension)?.label}</Table.Th>
                <Table.Th ta="right">Requests</Table.Th>
                <Table.Th ta="right">Errors</Table.Th>
                <Table.Th ta="right">Tokens</Table.Th>
                <Table.Th ta="right">Cost</Table.Th>
                <Table.Th ta="right">p50 / p99</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {(breakdown.data?.rows ?? []).map((r, i) => (
                <Table.Tr key={i}>
                  <Table.Td>{nameOf(r[dimension])}</Table.Td>
                  <Table.Td ta="right">{formatNumber(r.total_requests)}</Table.Td>
                  <Table.Td ta="right">{formatNumber(r.errors)}</Table.Td>
                  <Table.Td ta="right">{formatNumber(r.total_tokens)}</Table.Td>
                  <Table.Td ta="right">{formatMoney(r.total_cost)}</Table.Td>
                  <Table.Td ta="right">
                    {formatMs(r.p50_latency)} / {formatMs(r.p99_latency)}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </WideTable>
      </Paper>
    </>
  )
}
