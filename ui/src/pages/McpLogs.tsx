import {
  Button,
  Badge,
  Drawer,
  Group,
  MultiSelect,
  Pagination,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
} from '@mantine/core'
import { Link } from 'react-router-dom'
import { Empty, ErrorNote, Loading, PageHeader, WideTable } from '../components'
import { Field, JsonBox } from '../detail'
import { formatDateTime, formatMs, formatNumber } from '../format'
import { useApi } from '../hooks'
import { PERIODS, useUrlFilters } from '../url-filters'

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
const NUM = { ta: 'right' } as const

/** Every MCP tool call the gateway ran (GET /api/mcp-logs), with its arguments and result. */
export function McpLogsPage() {
  const { params, update, list, page, entry: selected, query } = useUrlFilters()
  const q = query(['tool_names', 'server_labels', 'status', 'period'])
  const { data, error, loading } = useApi<{ logs: McpLogEntry[]; pagination: { total_count: number } }>(
    `/api/mcp-logs?limit=${PAGE}&offset=${(page - 1) * PAGE}&${q}`,
  )
  const filterData = useApi<{ tool_names: string[]; server_labels: string[] }>(
    '/api/mcp-logs/filterdata',
  ).data
  const rows = data?.logs ?? []
  const total = data?.pagination.total_count ?? 0
  return (
    <>
      <PageHeader
        title="MCP tool logs"
        description="Every MCP tool call run through the gateway, newest first."
      />
      <Group mb="md" align="flex-end" wrap="wrap" gap="sm">
        <Select
          label="Time range"
          placeholder="All time"
          data={PERIODS}
          value={params.get('period')}
          onChange={(v) => update('period', v)}
          w={170}
          clearable
        />
        <MultiSelect
          label="Servers"
          data={filterData?.server_labels ?? []}
          value={list('server_labels')}
          onChange={(v) => update('server_labels', v.join(','))}
          w={200}
          clearable
        />
        <MultiSelect
          label="Tools"
          data={filterData?.tool_names ?? []}
          value={list('tool_names')}
          onChange={(v) => update('tool_names', v.join(','))}
          w={220}
          clearable
          searchable
        />
        <Select
          label="Status"
          data={['success', 'error']}
          value={params.get('status')}
          onChange={(v) => update('status', v)}
          w={130}
          clearable
        />
      </Group>
      <ErrorNote error={error} />
      {loading && !data && <Loading what="tool calls" />}
      {data && rows.length === 0 && (
        <Empty
          title="No tool call"
          hint="Tool calls made with POST /v1/mcp/tool/execute, or from an MCP server's tool dialog, appear here."
        />
      )}
      {rows.length > 0 && (
        <WideTable minWidth={720} label="MCP tool calls">
          <Table highlightOnHover verticalSpacing={6} data-testid="mcp-logs-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Time</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Server</Table.Th>
                <Table.Th>Tool</Table.Th>
                <Table.Th>Key</Table.Th>
                <Table.Th {...NUM}>Latency</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((l) => (
                <Table.Tr
                  key={l.id}
                  style={{ cursor: 'pointer' }}
                  onClick={() => update('entry', l.id)}
                  data-testid="mcp-log-row"
                >
                  <Table.Td>{formatDateTime(l.timestamp, true)}</Table.Td>
                  <Table.Td>
                    <Badge size="sm" color={l.status === 'success' ? 'teal' : 'red'}>
                      {l.status}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{l.server_label}</Table.Td>
                  <Table.Td>{l.tool_name}</Table.Td>
                  <Table.Td>{l.virtual_key_name ?? '—'}</Table.Td>
                  <Table.Td {...NUM}>{formatMs(l.latency)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </WideTable>
      )}
      {total > 0 && (
        <Group justify="space-between" mt="md">
          <Text size="sm" c="dimmed">
            {formatNumber(total)} {total === 1 ? 'call' : 'calls'}
          </Text>
          {total > PAGE && (
            <Pagination
              total={Math.ceil(total / PAGE)}
              value={page}
              onChange={(p) => update('page', String(p))}
            />
          )}
        </Group>
      )}
      <McpLogDrawer id={selected} onClose={() => update('entry', null)} />
    </>
  )
}

function McpLogDrawer({ id, onClose }: { id?: string; onClose: () => void }) {
  const { data: l, error } = useApi<McpLogEntry>(id ? `/api/mcp-logs/${encodeURIComponent(id)}` : null)
  return (
    <Drawer
      opened={!!id}
      onClose={onClose}
      position="right"
      size="xl"
      title="Tool call"
      closeButtonProps={{ 'aria-label': 'Close' }}
    >
      <ErrorNote error={error} />
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
    </Drawer>
  )
}
