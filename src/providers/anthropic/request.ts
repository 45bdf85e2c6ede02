import { GatewayError } from '../../core/errors.js'
import { JSON_OBJECT_INSTRUCTION, structuredFormatOf, structuredOutputTool } from '../structured-output.js'
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  ReasoningDetail,
  Tool,
  ToolCall,
} from '../../core/schemas/index.js'

/** One content block of Anthropic's Messages API, as sent. */
export interface AnthropicBlock {
  type: string
  [k: string]: unknown
}

export interface AnthropicMessageParam {
  role: 'user' | 'assistant'
  content: string | AnthropicBlock[]
}

/** The body of `POST /v1/messages`. */
export interface AnthropicRequest {
  model: string
  messages: AnthropicMessageParam[]
  max_tokens: number
  system?: string | AnthropicBlock[]
  stop_sequences?: string[]
  temperature?: number
  top_p?: number
  tools?: Record<string, unknown>[]
  tool_choice?: Record<string, unknown>
  thinking?: unknown
  metadata?: Record<string, unknown>
  stream?: boolean
  [k: string]: unknown
}

/** Anthropic requires `max_tokens`; OpenAI callers often leave it out. */
export const DEFAULT_MAX_TOKENS = 4096

/** Thinking budgets for OpenAI's `reasoning_effort` (Anthropic's minimum budget is 1024). */
export const EFFORT_BUDGETS: Readonly<Record<string, number>> = {
  minimal: 1024,
  low: 1024,
  medium: 4096,
  high: 16384,
}

/** Anthropic's own request parameters, beyond thinking, service tier and caching, that Anthropic's route passes on. */
export const ANTHROPIC_NATIVE_FIELDS = [
  'top_k',
  'container',
  'mcp_servers',
  'context_management',
  'output_config',
  'output_format',
] as const

/** Anthropic-only parameters a caller may send through the unified API; they go out unchanged. */
const NATIVE_PARAMS = [
  ...ANTHROPIC_NATIVE_FIELDS,
  // Automatic prompt caching (a top-level breakpoint), as Bifrost passes it.
  'cache_control',
] as const

/**
 * Turns a unified (OpenAI-shaped) chat request into Anthropic's Messages body. Parameters Anthropic
 * does not know are not sent: it answers 400 to any unknown field.
 */
export function toAnthropicRequest(
  req: ChatRequest,
  model: string,
  stream: boolean,
  opts: { structuredOutputAsTool?: boolean } = {},
): AnthropicRequest {
  const { system, messages } = toAnthropicMessages(req.messages)
  const requestedMax = req.max_completion_tokens ?? req.max_tokens ?? undefined
  const body: AnthropicRequest = { model, messages, max_tokens: requestedMax ?? DEFAULT_MAX_TOKENS }
  if (system !== undefined) body.system = system
  if (req.stop != null) {
    const stops = typeof req.stop === 'string' ? [req.stop] : req.stop
    if (stops.length) body.stop_sequences = stops
  }
  if (req.temperature != null) body.temperature = req.temperature
  if (req.top_p != null) body.top_p = req.top_p

  if (req.tools?.length) {
    body.tools = req.tools.map(toAnthropicTool)
    const choice = toToolChoice(req.tool_choice, req.parallel_tool_calls)
    if (choice) body.tool_choice = choice
  }

  const native = req as Record<string, unknown>
  if (native.thinking != null) {
    body.thinking = native.thinking
    // Our default max_tokens must not make a caller's own thinking budget invalid.
    const budget = budgetOf(native.thinking)
    if (requestedMax === undefined && budget !== undefined && body.max_tokens <= budget) {
      body.max_tokens = budget + DEFAULT_MAX_TOKENS
    }
  } else if (req.reasoning_effort != null && EFFORT_BUDGETS[req.reasoning_effort] !== undefined) {
    const budget = EFFORT_BUDGETS[req.reasoning_effort]
    body.thinking = { type: 'enabled', budget_tokens: budget }
    // OpenAI's max_completion_tokens covers reasoning too; Anthropic wants room beyond the budget.
    if (body.max_tokens <= budget) body.max_tokens = budget + (requestedMax ?? DEFAULT_MAX_TOKENS)
  }

  if (body.thinking != null && toolTurnWithoutThinking(messages)) {
    // Anthropic refuses thinking when the tool turn sent back lost its signed thinking (a client
    // on a route without signatures, such as Cohere's); this turn is then answered without thinking.
    delete body.thinking
  }

  for (const p of NATIVE_PARAMS) if (native[p] != null) body[p] = native[p]
  applyResponseFormat(body, req.response_format, opts.structuredOutputAsTool === true)
  // OpenAI's service_tier values ('default', 'flex', 'priority') would be rejected.
  if (native.service_tier === 'auto' || native.service_tier === 'standard_only')
    body.service_tier = native.service_tier

  const metadata = toMetadata(native.metadata, req.user)
  if (metadata) body.metadata = metadata
  if (stream) body.stream = true
  return body
}

/**
 * `response_format` as Anthropic's structured outputs (`output_config.format`, as Bifrost sends it),
 * or as a forced tool where the endpoint lacks them (Vertex), unless the caller gave Anthropic's own
 * format. JSON mode has no native form: it becomes an instruction in the system prompt.
 */
function applyResponseFormat(body: AnthropicRequest, responseFormat: unknown, asTool: boolean): void {
  const config = body.output_config as Record<string, unknown> | undefined
  if (body.output_format != null || config?.format != null) return
  const format = structuredFormatOf(responseFormat)
  if (format?.type === 'json_schema' && asTool) {
    const tool = structuredOutputTool(format)
    body.tools = [...(body.tools ?? []), tool]
    // Anthropic refuses a forced tool while thinking; the model is then only offered it.
    if (body.thinking == null) body.tool_choice = { type: 'tool', name: tool.name }
  } else if (format?.type === 'json_schema') {
    body.output_config = { ...config, format: { type: 'json_schema', schema: format.schema } }
  } else if (format?.type === 'json_object') {
    body.system =
      body.system === undefined
        ? JSON_OBJECT_INSTRUCTION
        : typeof body.system === 'string'
          ? `${body.system}\n\n${JSON_OBJECT_INSTRUCTION}`
          : [...body.system, { type: 'text', text: JSON_OBJECT_INSTRUCTION }]
  }
}

/** Whether the last assistant turn calls tools without starting with a thinking block. */
export function toolTurnWithoutThinking(messages: AnthropicMessageParam[]): boolean {
  const turn = messages.findLast((m) => m.role === 'assistant')?.content
  if (!Array.isArray(turn) || !turn.some((b) => b.type === 'tool_use')) return false
  return turn[0].type !== 'thinking' && turn[0].type !== 'redacted_thinking'
}

function budgetOf(thinking: unknown): number | undefined {
  if (!thinking || typeof thinking !== 'object') return undefined
  const t = thinking as { type?: unknown; budget_tokens?: unknown }
  return t.type === 'enabled' && typeof t.budget_tokens === 'number' ? t.budget_tokens : undefined
}

/** Anthropic's metadata holds only `user_id`; OpenAI's free-form metadata keys would be rejected. */
function toMetadata(metadata: unknown, user: string | undefined): Record<string, unknown> | undefined {
  const given =
    metadata && typeof metadata === 'object' ? (metadata as Record<string, unknown>).user_id : undefined
  const userId = given ?? user
  return userId === undefined || userId === null ? undefined : { user_id: userId }
}

interface TranslatedMessages {
  system: string | AnthropicBlock[] | undefined
  messages: AnthropicMessageParam[]
}

interface Turn {
  role: 'user' | 'assistant'
  blocks: AnthropicBlock[]
}

/**
 * System and developer messages become the one `system` prompt; tool results become user turns;
 * consecutive turns of one role merge, since Anthropic wants user and assistant to alternate.
 */
export function toAnthropicMessages(input: ChatMessage[]): TranslatedMessages {
  const systemBlocks: AnthropicBlock[] = []
  const turns: Turn[] = []
  const push = (role: Turn['role'], blocks: AnthropicBlock[]) => {
    if (!blocks.length) return
    const last = turns[turns.length - 1]
    if (last && last.role === role) last.blocks.push(...blocks)
    else turns.push({ role, blocks })
  }

  input.forEach((m, i) => {
    const where = `messages[${i}]`
    switch (m.role) {
      case 'system':
      case 'developer':
        systemBlocks.push(...contentBlocks(m.content, where))
        break
      case 'user':
        push('user', contentBlocks(m.content, where))
        break
      case 'assistant':
        push('assistant', assistantBlocks(m, where))
        break
      case 'tool':
      case 'function':
        push('user', [toolResultBlock(m, where)])
        break
    }
  })

  return { system: toSystem(systemBlocks), messages: turns.map(toMessageParam) }
}

function toSystem(blocks: AnthropicBlock[]): string | AnthropicBlock[] | undefined {
  if (!blocks.length) return undefined
  // Blocks only when a cache breakpoint or another field must survive; otherwise one plain prompt.
  const plain = blocks.every((b) => b.type === 'text' && Object.keys(b).length === 2)
  return plain ? blocks.map((b) => b.text as string).join('\n\n') : blocks
}

function toMessageParam(turn: Turn): AnthropicMessageParam {
  let blocks = turn.blocks
  if (turn.role === 'user' && blocks.some((b) => b.type === 'tool_result')) {
    // Anthropic wants every tool_result before any other content of the turn.
    blocks = [
      ...blocks.filter((b) => b.type === 'tool_result'),
      ...blocks.filter((b) => b.type !== 'tool_result'),
    ]
  }
  const only = blocks.length === 1 ? blocks[0] : undefined
  if (only && only.type === 'text' && Object.keys(only).length === 2)
    return { role: turn.role, content: only.text as string }
  return { role: turn.role, content: blocks }
}

function contentBlocks(content: ChatMessage['content'], where: string): AnthropicBlock[] {
  if (content == null) return []
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : []
  const out: AnthropicBlock[] = []
  content.forEach((part, j) => {
    const block = partToBlock(part, `${where}.content[${j}]`)
    if (block) out.push(block)
  })
  return out
}

/** One OpenAI content part as an Anthropic block. Parts of an unknown type are Anthropic-native and go as sent. */
function partToBlock(part: ContentPart, where: string): AnthropicBlock | undefined {
  switch (part.type) {
    case 'text':
      // Anthropic rejects empty text blocks.
      return part.text ? withCache({ type: 'text', text: part.text }, part) : undefined
    case 'image_url':
      return withCache({ type: 'image', source: imageSource(part.image_url?.url, where) }, part)
    case 'file':
      return withCache(documentBlock(part, where), part)
    case 'input_audio':
      throw invalid(`${where}: Anthropic does not accept audio input`, where)
    default:
      return { ...part }
  }
}

/** Copies a caller's cache breakpoint (on a content part, tool call or tool message) onto its block. */
function withCache(block: AnthropicBlock, part: object): AnthropicBlock {
  const cacheControl = (part as { cache_control?: unknown }).cache_control
  if (cacheControl != null) block.cache_control = cacheControl
  return block
}

interface DataUrl {
  mediaType: string
  base64: string
}

function parseDataUrl(url: string): DataUrl | undefined {
  const m = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(url)
  if (!m) return undefined
  const mediaType = m[1] || 'text/plain'
  const isBase64 = m[2].split(';').includes('base64')
  const base64 = isBase64 ? m[3] : Buffer.from(decodeURIComponent(m[3]), 'utf8').toString('base64')
  return { mediaType, base64 }
}

function imageSource(url: string | undefined, where: string): Record<string, unknown> {
  if (!url) throw invalid(`${where}: image_url.url is required`, where)
  if (url.startsWith('data:')) {
    const d = parseDataUrl(url)
    if (!d) throw invalid(`${where}: malformed data URL`, where)
    return { type: 'base64', media_type: d.mediaType, data: d.base64 }
  }
  if (/^https?:\/\//i.test(url)) return { type: 'url', url }
  throw invalid(`${where}: image URLs must be data: or http(s): URLs`, where)
}

function documentBlock(part: ContentPart, where: string): AnthropicBlock {
  const file = part.file ?? {}
  const block: AnthropicBlock = { type: 'document' }
  if (file.file_id) {
    block.source = { type: 'file', file_id: file.file_id }
  } else if (file.file_data) {
    const d = file.file_data.startsWith('data:')
      ? parseDataUrl(file.file_data)
      : { mediaType: 'application/pdf', base64: file.file_data }
    if (!d) throw invalid(`${where}: malformed file_data`, where)
    block.source =
      d.mediaType === 'text/plain'
        ? { type: 'text', media_type: 'text/plain', data: Buffer.from(d.base64, 'base64').toString('utf8') }
        : { type: 'base64', media_type: d.mediaType, data: d.base64 }
  } else {
    throw invalid(`${where}: file needs file_data or file_id`, where)
  }
  if (file.filename) block.title = file.filename
  return block
}

/** Thinking first (Anthropic checks it precedes the turn's text and tool calls), then text, then tool_use. */
function assistantBlocks(m: ChatMessage, where: string): AnthropicBlock[] {
  const blocks = reasoningBlocks(m.reasoning_details ?? [])
  blocks.push(...contentBlocks(m.content, where))
  m.tool_calls?.forEach((call, j) => blocks.push(toolUseBlock(call, `${where}.tool_calls[${j}]`)))
  return blocks
}

/**
 * Signed thinking goes back as `thinking`, encrypted as `redacted_thinking`; unsigned text cannot
 * be replayed and is dropped. Entries a stream split by index (text pieces, then the signature)
 * are joined first, so that each block keeps its signature.
 */
export function reasoningBlocks(details: ReasoningDetail[]): AnthropicBlock[] {
  const merged: ReasoningDetail[] = []
  for (const d of details) {
    // Reasoning another provider signed (tagged with its format) means nothing to Anthropic.
    const format = (d as Record<string, unknown>).format
    if (typeof format === 'string' && !format.startsWith('anthropic')) continue
    const prev = merged[merged.length - 1]
    if (
      prev &&
      d.type === 'reasoning.text' &&
      prev.type === 'reasoning.text' &&
      d.index !== undefined &&
      d.index === prev.index
    ) {
      if (d.text) prev.text = (prev.text ?? '') + d.text
      if (d.signature) prev.signature = d.signature
    } else {
      merged.push({ ...d })
    }
  }
  const out: AnthropicBlock[] = []
  for (const d of merged) {
    if (d.type === 'reasoning.text' && d.signature)
      out.push({ type: 'thinking', thinking: d.text ?? '', signature: d.signature })
    else if (d.type === 'reasoning.encrypted' && d.data) out.push({ type: 'redacted_thinking', data: d.data })
  }
  return out
}

function toolUseBlock(call: ToolCall, where: string): AnthropicBlock {
  const block: AnthropicBlock = {
    type: 'tool_use',
    id: call.id,
    name: call.function.name,
    input: parseArguments(call.function.arguments, where),
  }
  return withCache(block, call)
}

/** Empty arguments mean no arguments; anything else must be a JSON object, never silently `{}`. */
function parseArguments(args: string | undefined, where: string): Record<string, unknown> {
  if (args === undefined || args.trim() === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(args)
  } catch {
    throw invalid(`${where}: function.arguments is not valid JSON`, `${where}.function.arguments`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalid(`${where}: function.arguments must be a JSON object`, `${where}.function.arguments`)
  }
  return parsed as Record<string, unknown>
}

function toolResultBlock(m: ChatMessage, where: string): AnthropicBlock {
  const block: AnthropicBlock = { type: 'tool_result', tool_use_id: m.tool_call_id ?? m.name ?? '' }
  if (typeof m.content === 'string') {
    if (m.content) block.content = m.content
  } else if (Array.isArray(m.content)) {
    const parts = contentBlocks(m.content, where)
    if (parts.length) block.content = parts
  }
  return withCache(block, m)
}

/** OpenAI function tools become Anthropic tools; Anthropic-native tools (server tools) go as sent. */
function toAnthropicTool(tool: Tool): Record<string, unknown> {
  const fn = tool.function
  if (tool.type !== 'function' || !fn) return { ...tool }
  const params = fn.parameters
  const out: Record<string, unknown> = {
    name: fn.name,
    input_schema: params
      ? params.type === undefined
        ? { type: 'object', ...params }
        : params
      : { type: 'object' },
  }
  if (fn.description) out.description = fn.description
  const cache =
    (tool as Record<string, unknown>).cache_control ?? (fn as Record<string, unknown>).cache_control
  if (cache != null) out.cache_control = cache
  return out
}

/** OpenAI's tool_choice in Anthropic's form; `parallel_tool_calls: false` rides on it. */
export function toToolChoice(
  choice: unknown,
  parallel: boolean | null | undefined,
): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined
  if (choice === 'auto') out = { type: 'auto' }
  else if (choice === 'none') out = { type: 'none' }
  else if (choice === 'required' || choice === 'any') out = { type: 'any' }
  else if (choice && typeof choice === 'object') {
    const c = choice as { type?: unknown; function?: { name?: unknown }; name?: unknown }
    if (c.type === 'function' && typeof c.function?.name === 'string')
      out = { type: 'tool', name: c.function.name }
    else if (c.type === 'auto' || c.type === 'any' || c.type === 'tool' || c.type === 'none') out = { ...c }
  }
  if (parallel === false && out?.type !== 'none')
    out = { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true }
  return out
}

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param })
}
