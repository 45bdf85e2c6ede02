import { AreaChart, BarChart, LineChart } from '@mantine/charts'
import { Group, Paper, SegmentedControl, SimpleGrid, Table, Text, Title } from '@mantine/core'
import { useMemo, useState } from 'react'
import { money } from '../api'
import { Empty, ErrorNote, PageHeader } from '../components'
import { useApi } from '../hooks'

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

function label(ts: string | number, bucket: number) {
  const d = new Date(typeof ts === 'number' && ts < 1e12 ? ts * 1000 : ts)
  return bucket >= 86400
    ? d.toLocaleDateString()
    : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
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
    <Paper withBorder p="md" radius="md">
      <Text fw={600} mb="sm">
        {title}
      </Text>
      {children}
    </Paper>
  )
}

export function DashboardPage() {
  const [range, setRange] = useState('24h')
  const [dimension, setDimension] = useState('provider')
  // The range is fixed when it is picked, so every chart covers the same window.
  const query = useMemo(() => {
    const ms = RANGES.find((r) => r.value === range)!.ms
    const end = new Date()
    return `start_time=${new Date(end.getTime() - ms).toISOString()}&end_time=${end.toISOString()}`
  }, [range])
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
  const series = <T,>(b: Buckets<T> | undefined) =>
    (b?.buckets ?? []).map((x) => ({ ...x, time: label(x.timestamp, b!.bucket_size_seconds) }))
  const s = stats.data
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
      <ErrorNote error={stats.error} />
      <SimpleGrid cols={{ base: 2, md: 5 }} mb="lg">
        <Stat title="Requests" value={s ? String(s.total_requests) : '—'} />
        <Stat title="Success rate" value={s ? `${s.success_rate.toFixed(1)}%` : '—'} />
        <Stat title="Avg latency" value={s ? `${Math.round(s.average_latency)} ms` : '—'} />
        <Stat title="Tokens" value={s ? s.total_tokens.toLocaleString() : '—'} />
        <Stat title="Cost" value={s ? money(s.total_cost) : '—'} />
      </SimpleGrid>
      {s && s.total_requests === 0 && (
        <Empty
          title="No request in this range"
          hint="Send a request from the Playground, or widen the time range."
        />
      )}
      <SimpleGrid cols={{ base: 1, lg: 2 }} mt="md">
        <Chart title="Requests">
          <BarChart
            h={220}
            data={series(requests.data)}
            dataKey="time"
            type="stacked"
            series={[
              { name: 'success', color: 'teal.6' },
              { name: 'error', color: 'red.6' },
            ]}
          />
        </Chart>
        <Chart title="Latency percentiles (ms)">
          <LineChart
            h={220}
            data={series(latency.data)}
            dataKey="time"
            curveType="monotone"
            withDots={false}
            series={[
              { name: 'p50_latency', label: 'p50', color: 'indigo.6' },
              { name: 'p90_latency', label: 'p90', color: 'violet.6' },
              { name: 'p99_latency', label: 'p99', color: 'pink.6' },
            ]}
          />
        </Chart>
        <Chart title="Tokens">
          <AreaChart
            withDots={false}
            curveType="monotone"
            h={220}
            data={series(tokens.data)}
            dataKey="time"
            type="stacked"
            series={[
              { name: 'prompt_tokens', label: 'prompt', color: 'blue.6' },
              { name: 'completion_tokens', label: 'completion', color: 'cyan.6' },
            ]}
          />
        </Chart>
        <Chart title="Cost (USD)">
          <AreaChart
            withDots={false}
            curveType="monotone"
            h={220}
            data={series(cost.data)}
            dataKey="time"
            series={[{ name: 'total_cost', label: 'cost', color: 'orange.6' }]}
            valueFormatter={(v) => money(v)}
          />
        </Chart>
      </SimpleGrid>
      <Paper withBorder p="md" radius="md" mt="md">
        <Group justify="space-between" mb="sm">
          <Title order={5}>Breakdown</Title>
          <SegmentedControl size="xs" data={DIMENSIONS} value={dimension} onChange={setDimension} />
        </Group>
        <ErrorNote error={breakdown.error} />
        <Table.ScrollContainer minWidth={560}>
          <Table data-testid="breakdown">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{DIMENSIONS.find((d) => d.value === dimension)?.label}</Table.Th>
                <Table.Th>Requests</Table.Th>
                <Table.Th>Errors</Table.Th>
                <Table.Th>Tokens</Table.Th>
                <Table.Th>Cost</Table.Th>
                <Table.Th>p50 / p99</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {(breakdown.data?.rows ?? []).map((r, i) => (
                <Table.Tr key={i}>
                  <Table.Td>{String(r[dimension] ?? '(none)')}</Table.Td>
                  <Table.Td>{r.total_requests}</Table.Td>
                  <Table.Td>{r.errors}</Table.Td>
                  <Table.Td>{r.total_tokens}</Table.Td>
                  <Table.Td>{money(r.total_cost)}</Table.Td>
                  <Table.Td>
                    {Math.round(r.p50_latency)} / {Math.round(r.p99_latency)} ms
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Paper>
    </>
  )
}
