import {
  countTokens,
  FakeServer,
  lastText,
  pieces,
  SseWriter,
  type FakeContext,
  type Fault,
} from './server.js'
import { filesAndBatches } from './anthropic-objects.js'
import { sampleOf } from './json-schema-sample.js'

/**
 * A fake Anthropic API that speaks the published Messages wire format: `POST /v1/messages` (JSON
 * and SSE with message_start, content_block_start/delta/stop, message_delta, message_stop, ping),
 * `POST /v1/messages/count_tokens`, `GET /v1/models`, and the Files and Message Batches APIs
 * (anthropic-objects.ts). Like the real API it answers 400 to unknown top-level fields, to roles other
 * than user/assistant, to a thinking block whose signature it did not issue, to tool_use left
 * without a tool_result, and, with thinking enabled, to a last assistant turn whose tool_use is not
 * preceded by its thinking block. Replies are derived from the request: the answer to "hi" is "Echo: hi".
 *
 * Triggers:
 * - `tools` and a last user turn without tool results: two parallel tool_use blocks (one when
 *   tool_choice disables parallel use), their input streamed in many small input_json_delta pieces.
 * - `thinking: {type:'enabled'}`: a signed thinking block before the answer.
 * - `output_config.format` (or the beta `output_format`) `{type:'json_schema', schema}`: the answer
 *   is JSON text that fits the schema, its strings "Echo: <prompt>" (structured outputs).
 * - a forced tool (`tool_choice: {type:'tool'}`) whose input_schema does not describe a city: its
 *   input fits that schema instead of being the weather call.
 * - a prompt containing "cached": 8 cache_read_input_tokens; else any cache_control: 4 cache_creation_input_tokens,
 *   split in `cache_creation` by lifetime (all 1-hour when a cache_control says `ttl: "1h"`).
 * - a prompt containing "[stream-error]": an `error` event (overloaded_error) after message_start.
 * - a prompt containing "[no-stop]": the stream ends cleanly without message_stop.
 * - `stop_sequences` found in the answer: it is cut there (stop_reason stop_sequence); too small
 *   a `max_tokens`: it is cut (stop_reason max_tokens).
 * - x-api-key `sk-bad` or none: 401.
 */
export async function startFakeAnthropic(port = 0): Promise<FakeServer> {
  return new FakeServer(handle).start(port)
}

/** A queued fault whose body is Anthropic's error shape, e.g. `anthropicFault(529, 'overloaded_error')`. */
export function anthropicFault(
  status: number,
  type: string,
  message = `injected ${status}`,
  retryAfter?: string,
): Fault {
  return {
    kind: 'status',
    status,
    retryAfter,
    body: JSON.stringify({ type: 'error', error: { type, message } }),
  }
}

/** The signature the fake gives a thinking text, and checks when the text comes back. */
export function fakeSignature(thinking: string): string {
  return 'sig_' + Buffer.from(thinking, 'utf8').toString('base64')
}

export const FAKE_ANTHROPIC_MODELS = [
  'claude-sonnet-4-5-20250929',
  'claude-haiku-4-5-20251001',
  'claude-opus-4-1-20250805',
]

/** Top-level fields the Messages API accepts; anything else is "Extra inputs are not permitted". */
const KNOWN_FIELDS = new Set([
  'model',
  'messages',
  'max_tokens',
  'system',
  'stop_sequences',
  'stream',
  'temperature',
  'top_p',
  'top_k',
  'tools',
  'tool_choice',
  'thinking',
  'metadata',
  'service_tier',
  'cache_control',
  'container',
  'mcp_servers',
  'context_management',
  'output_config',
  'output_format',
])

let seq = 0
const id = (prefix: string) => `${prefix}_01${Date.now().toString(36)}${(++seq).toString(36)}`

function handle(ctx: FakeContext): void | Promise<void> {
  const { req, res, path } = ctx
  const key = req.headers['x-api-key']
  if (key === undefined || key === '' || key === 'sk-bad') {
    return error(res, 401, 'authentication_error', key ? 'invalid x-api-key' : 'x-api-key header is required')
  }
  if (!req.headers['anthropic-version']) {
    return error(res, 400, 'invalid_request_error', 'anthropic-version: header is required')
  }
  const route = path.split('?')[0]
  if (req.method === 'GET' && route === '/v1/models') {
    const data = FAKE_ANTHROPIC_MODELS.map((m) => ({
      type: 'model',
      id: m,
      display_name: m.replace(/-\d{8}$/, ''),
      created_at: '2025-09-29T00:00:00Z',
    }))
    return json(res, 200, { data, has_more: false, first_id: data[0].id, last_id: data[data.length - 1].id })
  }
  if (route.startsWith('/v1/files') || route.startsWith('/v1/messages/batches')) return filesAndBatches(ctx)
  if (req.method === 'POST' && route === '/v1/messages') return messages(ctx)
  if (req.method === 'POST' && route === '/v1/messages/count_tokens') return countMessageTokens(ctx)
  error(res, 404, 'not_found_error', `Not found: ${req.method} ${route}`)
}

/** Fields count_tokens accepts: the prompt's, not the generation settings (max_tokens is refused). */
const COUNT_FIELDS = new Set([
  'model',
  'messages',
  'system',
  'tools',
  'tool_choice',
  'thinking',
  'mcp_servers',
])

function countMessageTokens({ res, body }: FakeContext): void {
  for (const k of Object.keys(body ?? {}))
    if (!COUNT_FIELDS.has(k))
      return error(res, 400, 'invalid_request_error', `${k}: Extra inputs are not permitted`)
  if (!Array.isArray(body?.messages))
    return error(res, 400, 'invalid_request_error', 'messages: Field required')
  const system = typeof body.system === 'string' ? body.system : textOf(body.system)
  const prompt = [system, ...body.messages.map((m: any) => textOf(m.content))].filter(Boolean).join('\n')
  json(res, 200, { input_tokens: countTokens(prompt) + (body.tools?.length ?? 0) * 10 })
}

function json(res: FakeContext['res'], status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req') })
  res.end(JSON.stringify(value))
}

function error(res: FakeContext['res'], status: number, type: string, message: string): void {
  json(res, status, { type: 'error', error: { type, message } })
}

/** The first thing the real API would reject in this body, or undefined. */
function validate(body: any): string | undefined {
  if (!body || typeof body !== 'object') return 'body: expected a JSON object'
  for (const k of Object.keys(body)) if (!KNOWN_FIELDS.has(k)) return `${k}: Extra inputs are not permitted`
  if (typeof body.model !== 'string') return 'model: Field required'
  if (!Number.isInteger(body.max_tokens)) return 'max_tokens: Field required'
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: Field required'
  if (body.metadata && Object.keys(body.metadata).some((k) => k !== 'user_id'))
    return 'metadata: Extra inputs are not permitted'
  const format = body.output_config?.format ?? body.output_format
  if (format != null) {
    if (format.type !== 'json_schema') return "output_config.format.type: Input should be 'json_schema'"
    if (!format.schema || typeof format.schema !== 'object')
      return 'output_config.format.schema: Field required'
  }
  if (body.thinking?.type === 'enabled') {
    if (!(body.thinking.budget_tokens >= 1024))
      return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024'
    if (body.max_tokens <= body.thinking.budget_tokens)
      return '`max_tokens` must be greater than `thinking.budget_tokens`'
  }
  const thinkingOn = body.thinking?.type === 'enabled' || body.thinking?.type === 'adaptive'
  const lastAssistant = body.messages.findLastIndex((m: any) => m.role === 'assistant')
  const toolTurn = lastAssistant === -1 ? [] : body.messages[lastAssistant].content
  if (
    thinkingOn &&
    Array.isArray(toolTurn) &&
    toolTurn.some((b: any) => b.type === 'tool_use') &&
    toolTurn[0]?.type !== 'thinking' &&
    toolTurn[0]?.type !== 'redacted_thinking'
  ) {
    // Within a tool-use loop the model's thinking must come back before its tool calls.
    return `messages.${lastAssistant}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${toolTurn[0]?.type}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking`
  }
  for (let i = 0; i < body.messages.length; i++) {
    const m = body.messages[i]
    if (m.role !== 'user' && m.role !== 'assistant')
      return `messages.${i}.role: Input should be 'user' or 'assistant'`
    const blocks = Array.isArray(m.content) ? m.content : []
    for (let j = 0; j < blocks.length; j++) {
      const b = blocks[j]
      if (b.type === 'text' && !b.text)
        return `messages.${i}.content.${j}.text: text content blocks must be non-empty`
      if (b.type === 'thinking' && b.signature !== fakeSignature(b.thinking ?? '')) {
        return `messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block`
      }
    }
    const uses = blocks.filter((b: any) => b.type === 'tool_use').map((b: any) => b.id)
    if (uses.length) {
      const next = body.messages[i + 1]
      const answered = new Set(
        (Array.isArray(next?.content) ? next.content : [])
          .filter((b: any) => b.type === 'tool_result')
          .map((b: any) => b.tool_use_id),
      )
      const missing = uses.filter((u: string) => !answered.has(u))
      if (next && missing.length) {
        return `messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}`
      }
    }
  }
  return undefined
}

interface PlannedBlock {
  type: 'thinking' | 'text' | 'tool_use'
  text: string
  id?: string
  name?: string
  input?: Record<string, unknown>
}

interface Plan {
  blocks: PlannedBlock[]
  stopReason: string
  stopSequence: string | null
  promptText: string
}

function textOf(content: unknown): string {
  if (Array.isArray(content))
    return content
      .filter((b: any) => b?.type === 'text')
      .map((b: any) => b.text)
      .join('')
  return lastText(content)
}

function plan(body: any): Plan {
  const system = typeof body.system === 'string' ? body.system : textOf(body.system)
  const promptText = [system, ...body.messages.map((m: any) => textOf(m.content))].filter(Boolean).join('\n')
  const last = body.messages[body.messages.length - 1]
  const lastBlocks: any[] = Array.isArray(last.content) ? last.content : []
  const results = lastBlocks.filter((b) => b.type === 'tool_result')
  const blocks: PlannedBlock[] = []
  const userText = textOf(last.content)
  if (body.thinking?.type === 'enabled') {
    blocks.push({ type: 'thinking', text: `The user wrote "${userText}". I will answer plainly.` })
  }
  const choice = body.tool_choice ?? {}
  if (body.tools?.length && last.role === 'user' && !results.length && choice.type !== 'none') {
    let tools: any[] =
      choice.type === 'tool' ? body.tools.filter((t: any) => t.name === choice.name) : body.tools.slice(0, 2)
    if (choice.disable_parallel_tool_use) tools = tools.slice(0, 1)
    tools.forEach((t, i) => {
      blocks.push({
        type: 'tool_use',
        text: '',
        id: id('toolu'),
        name: t.name,
        input:
          choice.type === 'tool' && t.input_schema?.properties && !('city' in t.input_schema.properties)
            ? (sampleOf(t.input_schema, `Echo: ${userText}`) as Record<string, unknown>)
            : { city: i === 0 ? 'Paris' : 'Tokyo', unit: 'celsius' },
      })
    })
    return { blocks, stopReason: 'tool_use', stopSequence: null, promptText }
  }
  const format = body.output_config?.format ?? body.output_format
  let text = results.length
    ? `Tool said: ${results.map((r) => (typeof r.content === 'string' ? r.content : textOf(r.content))).join(' | ')}`
    : format
      ? JSON.stringify(sampleOf(format.schema, `Echo: ${userText}`))
      : `Echo: ${userText}`
  let stopReason = 'end_turn'
  let stopSequence: string | null = null
  for (const s of body.stop_sequences ?? []) {
    const at = text.indexOf(s)
    if (at !== -1) {
      text = text.slice(0, at)
      stopReason = 'stop_sequence'
      stopSequence = s
      break
    }
  }
  if (countTokens(text) > body.max_tokens) {
    text = text.slice(0, body.max_tokens * 4)
    stopReason = 'max_tokens'
  }
  blocks.push({ type: 'text', text })
  return { blocks, stopReason, stopSequence, promptText }
}

/** Like the real API, cache reads and writes are counted apart from `input_tokens`. */
function usageFor(body: any, p: Plan) {
  const input = countTokens(p.promptText)
  const cached = p.promptText.includes('cached')
  const hasBreakpoint = JSON.stringify(body).includes('"cache_control"')
  const output = countTokens(p.blocks.map((b) => b.text + (b.input ? JSON.stringify(b.input) : '')).join(''))
  const written = hasBreakpoint && !cached ? 4 : 0
  const oneHour = /"cache_control":\{[^}]*"ttl":"1h"/.test(JSON.stringify(body)) ? written : 0
  return {
    input_tokens: input,
    cache_creation_input_tokens: written,
    cache_read_input_tokens: cached ? 8 : 0,
    cache_creation: { ephemeral_5m_input_tokens: written - oneHour, ephemeral_1h_input_tokens: oneHour },
    output_tokens: output,
  }
}

function contentBlock(b: PlannedBlock): any {
  if (b.type === 'thinking') return { type: 'thinking', thinking: b.text, signature: fakeSignature(b.text) }
  if (b.type === 'tool_use') return { type: 'tool_use', id: b.id, name: b.name, input: b.input }
  return { type: 'text', text: b.text }
}

/** A Messages body's answer as the API gives it, or the 400 message it would send: for batches. */
export function messageFor(body: any): { message: Record<string, unknown> } | { problem: string } {
  const problem = validate(body)
  if (problem) return { problem }
  const p = plan(body)
  return {
    message: {
      id: id('msg'),
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: p.blocks.map(contentBlock),
      stop_reason: p.stopReason,
      stop_sequence: p.stopSequence,
      usage: usageFor(body, p),
    },
  }
}

function messages({ res, body, streamFault, report }: FakeContext): void {
  const problem = validate(body)
  if (problem) return error(res, 400, 'invalid_request_error', problem)
  const p = plan(body)
  const usage = usageFor(body, p)
  const ofType = (t: PlannedBlock['type']) => p.blocks.filter((b) => b.type === t)
  report({
    text: ofType('text')
      .map((b) => b.text)
      .join(''),
    thinking: ofType('thinking')
      .map((b) => b.text)
      .join(''),
    toolCalls: ofType('tool_use').map((b) => ({ name: b.name ?? '', args: b.input ?? {} })),
    usage: { input: usage.input_tokens, output: usage.output_tokens },
  })
  const mid = id('msg')
  if (!body.stream) {
    if (streamFault?.kind === 'malformed') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(`{"id":"${mid}","type":"mess`)
      return
    }
    return json(res, 200, {
      id: mid,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: p.blocks.map(contentBlock),
      stop_reason: p.stopReason,
      stop_sequence: p.stopSequence,
      usage: { ...usage, service_tier: 'standard' },
    })
  }

  const sse = new SseWriter(res, streamFault)
  const send = (event: Record<string, unknown>) => sse.send(JSON.stringify(event), event.type as string)
  const start = {
    type: 'message_start',
    message: {
      id: mid,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: 1, service_tier: 'standard' },
    },
  }
  if (!send(start) || !send({ type: 'ping' })) return
  if (p.promptText.includes('[stream-error]')) {
    if (send({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })) sse.end()
    return
  }
  for (let index = 0; index < p.blocks.length; index++) {
    const b = p.blocks[index]
    const ok =
      b.type === 'thinking'
        ? streamThinking(send, index, b)
        : b.type === 'tool_use'
          ? streamToolUse(send, index, b)
          : streamText(send, index, b)
    if (!ok || !send({ type: 'content_block_stop', index })) return
  }
  const delta = {
    type: 'message_delta',
    delta: { stop_reason: p.stopReason, stop_sequence: p.stopSequence },
    usage: { output_tokens: usage.output_tokens },
  }
  if (!send(delta)) return
  if (p.promptText.includes('[no-stop]')) return sse.end()
  if (send({ type: 'message_stop' })) sse.end()
}

type Send = (event: Record<string, unknown>) => boolean

function streamText(send: Send, index: number, b: PlannedBlock): boolean {
  if (!send({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } })) return false
  for (const piece of b.text ? pieces(b.text) : []) {
    if (!send({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } }))
      return false
  }
  return true
}

function streamThinking(send: Send, index: number, b: PlannedBlock): boolean {
  if (
    !send({
      type: 'content_block_start',
      index,
      content_block: { type: 'thinking', thinking: '', signature: '' },
    })
  )
    return false
  for (const piece of pieces(b.text)) {
    if (!send({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: piece } }))
      return false
  }
  return send({
    type: 'content_block_delta',
    index,
    delta: { type: 'signature_delta', signature: fakeSignature(b.text) },
  })
}

function streamToolUse(send: Send, index: number, b: PlannedBlock): boolean {
  if (
    !send({
      type: 'content_block_start',
      index,
      content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} },
    })
  )
    return false
  const args = JSON.stringify(b.input)
  // Like the real API: an empty piece first, then the JSON in small fragments.
  if (!send({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } }))
    return false
  for (let k = 0; k < args.length; k += 5) {
    if (
      !send({
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: args.slice(k, k + 5) },
      })
    )
      return false
  }
  return true
}
