import { Button, Badge, Group, SimpleGrid, Stack } from '@mantine/core'
import { Link } from 'react-router-dom'
import { ErrorNote, PageHeader } from '../components'
import { EntryDrawer, Field, JsonBox } from '../detail'
import { formatDateTime, formatMs } from '../format'
import { useApi } from '../hooks'
import { LogTable, PeriodFilter, StatusFilter, UrlMultiSelect, type Column } from '../list-page'
import { useUrlFilters } from '../url-filters'

interface McpLogEntry {
  id: string
  timestamp: string
  tool_name: string
  server_label: string
  virtual_key_name?: string | null
  status: string
  latency: number
  llm_request_id?: string
  tool_call_id?: string
  arguments?: unknown
  result?: unknown
  error_details?: { error?: { message?: string } }
}

const PAGE = 50

/** Every MCP tool call the gateway ran (GET /api/mcp-logs), with its arguments and result. */
export function McpLogsPage() {
  const filters = useUrlFilters()
  const { page, query } = filters
  const q = query(['tool_names', 'server_labels', 'status', 'period'])
  const { data, error, loading } = useApi<{ logs: McpLogEntry[]; pagination: { total_count: number } }>(
    `/api/mcp-logs?limit=${PAGE}&offset=${(page - 1) * PAGE}&${q}`,
  )
  const filterData = useApi<{ tool_names: string[]; server_labels: string[] }>(
    '/api/mcp-logs/filterdata',
  ).data
  const total = data?.pagination.total_count ?? 0
  return (
    <>
      <PageHeader
        title="MCP tool logs"
        description="Every MCP tool call run through the gateway, newest first."
      />
      <Group mb="md" align="flex-end" wrap="wrap" gap="sm">
        <PeriodFilter filters={filters} />
        <UrlMultiSelect
          filters={filters}
          name="server_labels"
          label="Servers"
          data={filterData?.server_labels ?? []}
          searchable={false}
        />
        <UrlMultiSelect
          filters={filters}
          name="tool_names"
          label="Tools"
          data={filterData?.tool_names ?? []}
          w={220}
        />
        <StatusFilter filters={filters} />
      </Group>
      <LogTable
        filters={filters}
        total={total}
        perPage={PAGE}
        noun={['call', 'calls']}
        rows={data?.logs}
        error={error}
        what="tool calls"
        empty={{
          title: 'No tool call',
          hint: "Tool calls made with POST /v1/mcp/tool/execute, or from an MCP server's tool dialog, appear here.",
        }}
        label="MCP tool calls"
        minWidth={720}
        testId="mcp-logs-table"
        busy={loading}
        rowTestId="mcp-log-row"
        columns={COLUMNS}
        drawer={McpLogDrawer}
      />
    </>
  )
}

const COLUMNS: Column<McpLogEntry>[] = [
  { header: 'Time', cell: (l) => formatDateTime(l.timestamp, true) },
  {
    header: 'Status',
    cell: (l) => (
      <Badge size="sm" color={l.status === 'success' ? 'teal' : 'red'}>
        {l.status}
      </Badge>
    ),
  },
  { header: 'Server', cell: (l) => l.server_label },
  { header: 'Tool', cell: (l) => l.tool_name },
  { header: 'Key', cell: (l) => l.virtual_key_name ?? '—' },
  { header: 'Latency', ta: 'right', cell: (l) => formatMs(l.latency) },
]

function McpLogDrawer({ id, onClose }: { id?: string; onClose: () => void }) {
  const { data: l, error } = useApi<McpLogEntry>(id ? `/api/mcp-logs/${encodeURIComponent(id)}` : null)
  return (
    <EntryDrawer id={id} onClose={onClose} title="Tool call" error={error}>
      {l && l.id === id && (
        <Stack data-testid="mcp-log-detail" style={{ minWidth: 0 }}>
          <SimpleGrid cols={{ base: 2, sm: 3 }} spacing="sm">
            <Field label="Call id" value={l.id} copy={l.id} />
            <Field label="Time" value={formatDateTime(l.timestamp, true)} copy={l.timestamp} />
            <Field label="Status" value={l.status} />
            <Field label="Tool" value={`${l.server_label} / ${l.tool_name}`} />
            <Field label="Virtual key" value={l.virtual_key_name ?? '—'} />
            <Field label="Latency" value={formatMs(l.latency)} />
          </SimpleGrid>
          {l.llm_request_id && (
            <Button
              component={Link}
              to={`/logs?entry=${encodeURIComponent(l.llm_request_id)}`}
              variant="default"
              size="xs"
            >
              The chat request that asked for this call
            </Button>
          )}
          {l.error_details?.error?.message && <ErrorNote error={l.error_details.error.message} />}
          <JsonBox label="Arguments" value={l.arguments ?? {}} />
          <JsonBox label="Result" value={l.result ?? null} />
        </Stack>
      )}
    </EntryDrawer>
  )
}
