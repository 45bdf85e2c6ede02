import { Badge, Button, SegmentedControl, Text } from '@mantine/core'
import { useState } from 'react'
import { PageHeader } from '../components'
import { formatDateTime, formatMoney, formatMs } from '../format'
import { useApi } from '../hooks'
import { ListTable, Pages, type Column } from '../list-page'

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
      <ListTable
        rows={data?.jobs}
        error={error}
        what="jobs"
        empty={{
          title: 'No job',
          hint: 'Jobs appear here when a client POSTs to /v1/async/chat/completions and the like.',
        }}
        label="Async jobs"
        minWidth={820}
        rowTestId={(j) => `job-${j.id}`}
        columns={COLUMNS}
      />
      <Pages
        total={data?.total ?? 0}
        pages={Math.ceil((data?.total ?? 0) / PAGE)}
        page={page}
        onChange={setPage}
        noun={['job', 'jobs']}
      />
    </>
  )
}

const COLUMNS: Column<Job>[] = [
  {
    header: 'Created',
    cell: (j) => (
      <>
        <Text size="sm">{formatDateTime(j.created_at, true)}</Text>
        <Text size="xs" c="dimmed" ff="monospace">
          {j.id}
        </Text>
      </>
    ),
  },
  {
    header: 'Status',
    cell: (j) => (
      <Badge color={JOB_COLORS[j.status]} variant="light">
        {j.status}
        {j.status_code !== null && j.status === 'failed' ? ` ${j.status_code}` : ''}
      </Badge>
    ),
  },
  { header: 'Type', cell: (j) => j.request_type },
  { header: 'Model', cell: (j) => j.model ?? '—' },
  { header: 'Virtual key', cell: (j) => j.virtual_key_name ?? j.virtual_key_id ?? '—' },
  {
    header: 'Duration',
    ta: 'right',
    cell: (j) => (j.duration_ms === undefined ? '—' : formatMs(j.duration_ms)),
  },
  { header: 'Cost', ta: 'right', cell: (j) => (j.cost === null ? '—' : formatMoney(j.cost)) },
]
