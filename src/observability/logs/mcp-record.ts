import { randomUUID } from 'node:crypto'
import type { RequestFacts } from '../../core/plugins.js'
import type { ToolCallRecord } from '../../core/tool-calls.js'
import { redactedJson, redactText } from './redact.js'
import { listParam, numberParam, parseTimeRange, textParam, type Query } from './filters.js'

/** One MCP tool execution as the log store keeps it: a row of the `mcp_tool_logs` table. */
export interface McpToolLogRow {
  id: string
  /** The inference request whose agent loop ran the tool; null for POST /v1/mcp/tool/execute. */
  llm_request_id: string | null
  /** Milliseconds since the epoch, when the tool was called. */
  ts: number
  tool_name: string
  /** The MCP client that served the tool. */
  server_label: string
  tool_call_id: string | null
  virtual_key_id: string | null
  virtual_key_name: string | null
  status: 'success' | 'error'
  /** Milliseconds. */
  latency: number
  /** JSON, secrets redacted; null when content logging is off or the content expired. */
  arguments: string | null
  /** The tool's answer as text, secrets redacted; null as `arguments`. */
  result: string | null
  /** Why it failed, secrets redacted. */
  error: string | null
}

/** Bifrost's `MCPToolLogEntry`, plus the virtual key and the model's tool call id. */
export interface McpToolLogEntry {
  id: string
  llm_request_id?: string
  timestamp: string
  created_at: string
  tool_name: string
  server_label: string
  tool_call_id?: string
  virtual_key_id: string | null
  virtual_key_name: string | null
  status: 'success' | 'error'
  latency: number
  arguments?: unknown
  result?: unknown
  error_details?: { error: { message: string } }
}

/** Where a tool call came from, for its log row. */
export interface ToolCallOrigin {
  llmRequestId?: string
  virtualKey?: RequestFacts['virtualKey']
  withContent: boolean
  /** The caller's credentials, scrubbed from arguments, result and error. */
  secrets: readonly string[]
}

/** Builds the row of a finished tool call; `now` is the wall clock at its end. */
export function toolCallRow(call: ToolCallRecord, origin: ToolCallOrigin, now = Date.now()): McpToolLogRow {
  const latency = Number(call.endNs - call.startNs) / 1e6
  return {
    id: randomUUID(),
    llm_request_id: origin.llmRequestId ?? null,
    ts: Math.round(now - latency),
    tool_name: call.name,
    server_label: call.client,
    tool_call_id: call.callId ?? null,
    virtual_key_id: origin.virtualKey?.id ?? null,
    virtual_key_name: origin.virtualKey?.name ?? null,
    status: call.error === undefined ? 'success' : 'error',
    latency,
    arguments: origin.withContent ? redactedJson(call.arguments ?? {}, origin.secrets) : null,
    result: origin.withContent && call.result !== undefined ? redactText(call.result, origin.secrets) : null,
    error: call.error === undefined ? null : redactText(call.error, origin.secrets),
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export function mcpRowToEntry(row: McpToolLogRow): McpToolLogEntry {
  const ts = new Date(Number(row.ts)).toISOString()
  const entry: McpToolLogEntry = {
    id: row.id,
    timestamp: ts,
    created_at: ts,
    tool_name: row.tool_name,
    server_label: row.server_label,
    virtual_key_id: row.virtual_key_id,
    virtual_key_name: row.virtual_key_name,
    status: row.status,
    latency: Number(row.latency),
  }
  if (row.llm_request_id !== null) entry.llm_request_id = row.llm_request_id
  if (row.tool_call_id !== null) entry.tool_call_id = row.tool_call_id
  if (row.arguments !== null) entry.arguments = parseJson(row.arguments)
  // A tool answering JSON shows as an object, as Bifrost's `result`; plain text stays text.
  if (row.result !== null) entry.result = parseJson(row.result)
  if (row.error !== null) entry.error_details = { error: { message: row.error } }
  return entry
}

/** Bifrost's MCP log filters (`MCPToolLogSearchFilters`). */
export interface McpLogFilters {
  tool_names?: string[]
  server_labels?: string[]
  status?: string[]
  virtual_key_ids?: string[]
  llm_request_ids?: string[]
  start_time?: number
  end_time?: number
  min_latency?: number
  max_latency?: number
  content_search?: string
}

/** The list filters and the row column each filters. */
export const MCP_LIST_FILTERS = {
  tool_names: 'tool_name',
  server_labels: 'server_label',
  status: 'status',
  virtual_key_ids: 'virtual_key_id',
  llm_request_ids: 'llm_request_id',
} as const satisfies Record<string, keyof McpToolLogRow>

/** Reads the filters of /api/mcp-logs; throws a 400 on a malformed value. */
export function parseMcpFilters(q: Query, now = Date.now()): McpLogFilters {
  const f: McpLogFilters = {}
  for (const name of Object.keys(MCP_LIST_FILTERS) as (keyof typeof MCP_LIST_FILTERS)[]) {
    const values = listParam(q, name)
    if (values !== undefined) f[name] = values
  }
  Object.assign(f, parseTimeRange(q, now))
  f.min_latency = numberParam(q, 'min_latency')
  f.max_latency = numberParam(q, 'max_latency')
  f.content_search = textParam(q, 'content_search')
  for (const k of Object.keys(f) as (keyof McpLogFilters)[]) if (f[k] === undefined) delete f[k]
  return f
}
