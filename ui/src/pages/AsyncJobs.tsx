import { Badge, Button, Group, Pagination, SegmentedControl, Table, Text } from '@mantine/core'
import { useState } from 'react'
import { Empty, ErrorNote, Loading, PageHeader, WideTable } from '../components'
import { formatDateTime, formatMoney, formatMs } from '../format'
import { useApi } from '../hooks'

interface Job {
  id: string
  status: 'pending' | 'processing' | 'completed' | 'failed'
  request_type: string
  model: string | null
  virtual_key_id: string | null
  virtual_key_name?: string
  webhook_endpoint: string | null
  status_code: number | null
  created_at: string
  duration_ms?: number
  cost: number | null
}
interface JobList {
  jobs: Job[]
  total: number
}

const PAGE = 50
const JOB_COLORS: Record<Job['status'], string> = {
  pending: 'gray',
  processing: 'blue',
  completed: 'green',
  failed: 'red',
}

/** Async inference jobs of every key (GET /api/async/jobs), newest first. */
export function AsyncJobsPage() {
  const [status, setStatus] = useState('all')
  const [page, setPage] = useState(1)
  const q = new URLSearchParams({ limit: String(PAGE), offset: String((page - 1) * PAGE) })
  if (status !== 'all') q.set('status', status)
  const { data, error, reload } = useApi<JobList>(`/api/async/jobs?${q}`)
  const jobs = data?.jobs ?? []
  const pages = Math.ceil((data?.total ?? 0) / PAGE)
  return (
    <>
      <PageHeader
        title="Async jobs"
        description="Requests sent to /v1/async/…: queued, running or finished, with their key, model, time and cost."
        actions={
          <Button variant="default" onClick={() => void reload()}>
            Refresh
          </Button>
        }
      />
      <SegmentedControl
        mb="md"
        value={status}
        onChange={(v) => {
          setStatus(v)
          setPage(1)
        }}
        data={['all', 'pending', 'processing', 'completed', 'failed']}
        aria-label="Job status"
      />
      <ErrorNote error={error} />
      {!data && !error && <Loading what="jobs" />}
      {data && jobs.length === 0 && (
        <Empty
          title="No job"
          hint="Jobs appear here when a client POSTs to /v1/async/chat/completions and the like."
        />
      )}
      {jobs.length > 0 && (
        <WideTable minWidth={820} label="Async jobs">
          <Table verticalSpacing="sm" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Created</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>Model</Table.Th>
                <Table.Th>Virtual key</Table.Th>
                <Table.Th ta="right">Duration</Table.Th>
                <Table.Th ta="right">Cost</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {jobs.map((j) => (
                <Table.Tr key={j.id} data-testid={`job-${j.id}`}>
                  <Table.Td>
                    <Text size="sm">{formatDateTime(j.created_at, true)}</Text>
                    <Text size="xs" c="dimmed" ff="monospace">
                      {j.id}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge color={JOB_COLORS[j.status]} variant="light">
                      {j.status}
                      {j.status_code !== null && j.status === 'failed' ? ` ${j.status_code}` : ''}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{j.request_type}</Table.Td>
                  <Table.Td>{j.model ?? '—'}</Table.Td>
                  <Table.Td>{j.virtual_key_name ?? j.virtual_key_id ?? '—'}</Table.Td>
                  <Table.Td ta="right">
                    {j.duration_ms === undefined ? '—' : formatMs(j.duration_ms)}
                  </Table.Td>
                  <Table.Td ta="right">{j.cost === null ? '—' : formatMoney(j.cost)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </WideTable>
      )}
      {pages > 1 && (
        <Group justify="space-between" mt="md">
          <Text size="sm" c="dimmed">
            {data!.total} jobs
          </Text>
          <Pagination total={pages} value={page} onChange={setPage} />
        </Group>
      )}
    </>
  )
}
