/** One request as the log store keeps it: a row of the `logs` table. */
export interface LogRow {
  /** The gateway's own time-ordered id. */
  id: string
  /** The caller's `x-request-id`, which need not be unique. */
  client_request_id?: string | null
  /** Milliseconds since the epoch, when the request arrived. */
  ts: number
  object: string
  route: string | null
  provider: string
  model: string
  status: 'success' | 'error'
  stream: number
  fallback_index: number
  number_of_retries: number
  selected_key_id: string | null
  selected_key_name: string | null
  virtual_key_id: string | null
  virtual_key_name: string | null
  team_id: string | null
  team_name: string | null
  customer_id: string | null
  customer_name: string | null
  /** Milliseconds. */
  latency: number
  /** Milliseconds from arrival to the first streamed event. */
  ttft: number | null
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  cached_tokens: number
  reasoning_tokens: number
  /** US dollars; null when the request has no usage (failed) or the model has no price. */
  cost: number | null
  cost_estimated: number
  /** JSON: Bifrost's error body. */
  error: string | null
  /** JSON: every upstream attempt. */
  attempts: string | null
  /** JSON, secrets redacted; null when content logging is off or the content expired. */
  input: string | null
  output: string | null
  /** Text searched by `content_search`. */
  content_summary: string | null
  /** 1 when a body was longer than the log keeps (`client.log_max_content_chars`) and was cut. */
  content_truncated?: number | null
  /** `direct` or `semantic` when the response cache answered; null when a provider did. */
  cache_hit_type?: string | null
  /** JSON: Bifrost's `cache_debug`, when the response cache looked the request up. */
  cache_debug?: string | null
  /** US dollars a cache hit did not spend: the cached answer's usage at the model's price. */
  cache_saved?: number | null
  /** The routing rule that routed the request, when one did. */
  routing_rule_id?: string | null
  /** JSON: which rule (id, name, chain) or session pin routed the request, and the primary target a fallback replaced. */
  routing_info?: string | null
  /** Bifrost's routing engines that chose the target, comma-joined in order (`governance,routing-rule`). */
  routing_engine_used?: string | null
}

/** A log entry in Bifrost's JSON shape (`LogEntry` of the management API). */
export interface LogEntry {
  id: string
  /** Heimdall: the caller's `x-request-id`, when it sent one. */
  client_request_id?: string
  timestamp: string
  created_at: string
  object: string
  route?: string
  provider: string
  model: string
  status: 'success' | 'error'
  stream: boolean
  fallback_index: number
  number_of_retries: number
  selected_key_id: string
  selected_key_name: string
  /** Left out when the request had none (Bifrost's schema: a string or nothing); the same for team and customer. */
  virtual_key_id?: string
  virtual_key_name?: string
  team_id?: string
  team_name?: string
  customer_id?: string
  customer_name?: string
  latency: number
  time_to_first_token?: number
  input_tokens: number
  output_tokens: number
  total_tokens: number
  token_usage: {
    prompt_tokens: number
    completion_tokens: number
    total_tokens: number
    prompt_tokens_details?: { cached_tokens: number }
    completion_tokens_details?: { reasoning_tokens: number }
  }
  /** Left out when the request could not be priced (Bifrost's schema: a number or nothing). */
  cost?: number
  cost_estimated: boolean
  error_details?: unknown
  /** The same as `error_details`: Bifrost's OpenAPI names it `error`, its server `error_details`. */
  error?: unknown
  attempt_trail?: unknown
  request?: unknown
  response?: unknown
  input_history?: unknown
  output_message?: unknown
  content_summary?: string
  /** Heimdall: a body was cut at `client.log_max_content_chars`; the stored text ends with a marker. */
  content_truncated?: boolean
  /** Bifrost's `cache_debug`: how the response cache treated the request (`cache_hit`, `hit_type` ...). */
  cache_debug?: unknown
  /** Heimdall: what a cache hit did not spend (its answer's usage at the model's price), US dollars. */
  cache_saved_cost?: number
  /** The routing rule that routed the request (Bifrost's log filter `routing_rule_ids` reads it). */
  routing_rule_id?: string
  /** Which rule routed the request (`rule_id`, `rule_name`, `rule_chain`), a session pin, the primary target a fallback replaced. */
  routing_info?: unknown
  /** Bifrost's: the routing engines that chose the target, comma-joined (`governance`, `routing-rule`, `loadbalancing`). */
  routing_engine_used?: string
}

function parse(text: string | null): unknown {
  if (text === null || text === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const GOVERNANCE_FIELDS = [
  'virtual_key_id',
  'virtual_key_name',
  'team_id',
  'team_name',
  'customer_id',
  'customer_name',
] as const

/** A stored row in the API's shape. */
export function rowToEntry(row: LogRow): LogEntry {
  const ts = new Date(Number(row.ts)).toISOString()
  const num = (v: unknown) => Number(v ?? 0)
  const entry: LogEntry = {
    id: row.id,
    timestamp: ts,
    created_at: ts,
    object: row.object,
    provider: row.provider,
    model: row.model,
    status: row.status,
    stream: Boolean(Number(row.stream)),
    fallback_index: num(row.fallback_index),
    number_of_retries: num(row.number_of_retries),
    selected_key_id: row.selected_key_id ?? '',
    selected_key_name: row.selected_key_name ?? '',
    latency: num(row.latency),
    input_tokens: num(row.prompt_tokens),
    output_tokens: num(row.completion_tokens),
    total_tokens: num(row.total_tokens),
    token_usage: {
      prompt_tokens: num(row.prompt_tokens),
      completion_tokens: num(row.completion_tokens),
      total_tokens: num(row.total_tokens),
      prompt_tokens_details: { cached_tokens: num(row.cached_tokens) },
      completion_tokens_details: { reasoning_tokens: num(row.reasoning_tokens) },
    },
    cost_estimated: Boolean(Number(row.cost_estimated)),
  }
  if (row.cost !== null) entry.cost = Number(row.cost)
  for (const field of GOVERNANCE_FIELDS) {
    const value = row[field]
    if (value !== null) entry[field] = value
  }
  if (row.route !== null) entry.route = row.route
  if (row.client_request_id) entry.client_request_id = row.client_request_id
  if (Number(row.content_truncated) === 1) entry.content_truncated = true
  if (row.ttft !== null) entry.time_to_first_token = Number(row.ttft)
  const cacheDebug = parse(row.cache_debug ?? null)
  if (cacheDebug !== undefined) entry.cache_debug = cacheDebug
  if (row.cache_saved !== null && row.cache_saved !== undefined)
    entry.cache_saved_cost = Number(row.cache_saved)
  if (row.routing_rule_id) entry.routing_rule_id = row.routing_rule_id
  const routing = parse(row.routing_info ?? null)
  if (routing !== undefined) entry.routing_info = routing
  if (row.routing_engine_used) entry.routing_engine_used = row.routing_engine_used
  const error = parse(row.error)
  if (error !== undefined) {
    entry.error_details = error
    entry.error = error
  }
  const attempts = parse(row.attempts)
  if (attempts !== undefined) entry.attempt_trail = attempts
  const input = parse(row.input)
  if (input !== undefined) {
    entry.request = input
    const messages = (input as { messages?: unknown }).messages
    if (Array.isArray(messages)) entry.input_history = messages
  }
  const output = parse(row.output) as { choices?: { message?: unknown }[]; role?: unknown } | undefined
  if (output !== undefined) {
    entry.response = output
    const message = output.role !== undefined ? output : output.choices?.[0]?.message
    if (message !== undefined) entry.output_message = message
  }
  if (row.content_summary !== null && row.content_summary !== '') entry.content_summary = row.content_summary
  return entry
}
