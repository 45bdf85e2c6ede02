import { GatewayError } from '../../core/errors.js'
import { signatureFromRoute } from '../signature-origin.js'
import type { ChatMessage, ChatRequest, ContentPart, Tool } from '../../core/schemas/index.js'
import { ANTHROPIC_NATIVE_FIELDS, type AnswerParts } from '../../providers/index.js'

/** One content block of an Anthropic Messages request, as the SDK sends it. */
export interface AnthropicInBlock {
  type: string
  [k: string]: unknown
}

/** The body of `POST /anthropic/v1/messages`. */
export interface AnthropicMessagesBody {
  model: string
  messages: { role: string; content: string | AnthropicInBlock[] }[]
  max_tokens: number
  system?: string | AnthropicInBlock[]
  stream?: boolean
  [k: string]: unknown
}

/** Reasoning that carries an Anthropic signature is tagged so it goes back only to Anthropic. */
export const ANTHROPIC_REASONING_FORMAT = 'anthropic-claude-v1'

/** Fields copied as they are when the target speaks Anthropic itself. */
const ANTHROPIC_ONLY = [
  'thinking',
  ...ANTHROPIC_NATIVE_FIELDS,
  'service_tier',
  // Automatic prompt caching: one breakpoint the API places itself.
  'cache_control',
] as const

function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', message, { param })
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Checks the parts of a Messages body that the translation relies on; the rest is the provider's to judge. */
export function validateMessagesBody(body: unknown): AnthropicMessagesBody {
  if (!isObject(body)) throw invalid('the body must be a JSON object')
  if (typeof body.model !== 'string' || !body.model) throw invalid('model: Field required', 'model')
  if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1)
    throw invalid('max_tokens: Field required (a positive integer)', 'max_tokens')
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    throw invalid('messages: Field required (at least one message)', 'messages')
  body.messages.forEach((m: unknown, i) => {
    if (!isObject(m) || (m.role !== 'user' && m.role !== 'assistant'))
      throw invalid(`messages.${i}.role: Input should be 'user' or 'assistant'`, `messages.${i}.role`)
    if (typeof m.content !== 'string' && !Array.isArray(m.content))
      throw invalid(`messages.${i}.content: Field required`, `messages.${i}.content`)
    if (Array.isArray(m.content) && m.content.some((b) => !isObject(b) || typeof b.type !== 'string'))
      throw invalid(`messages.${i}.content: every block needs a type`, `messages.${i}.content`)
  })
  if (body.system !== undefined && typeof body.system !== 'string' && !Array.isArray(body.system))
    throw invalid('system: must be a string or a list of text blocks', 'system')
  if (body.tools !== undefined && !Array.isArray(body.tools)) throw invalid('tools: must be a list', 'tools')
  return body as AnthropicMessagesBody
}

/**
 * Turns an Anthropic Messages request into the unified chat request. Signed thinking, redacted
 * thinking and cache_control markers are kept, so that an Anthropic target gets them back as sent.
 * `anthropicNative` says whether the target speaks Anthropic (its own parameters then go along).
 */
export function anthropicToChat(body: AnthropicMessagesBody, anthropicNative: boolean): ChatRequest {
  const messages: ChatMessage[] = []
  const system = systemParts(body.system)
  if (system) messages.push({ role: 'system', content: system })
  body.messages.forEach((m, i) => {
    if (m.role === 'assistant') messages.push(fromAnthropicAssistant(m.content, i))
    else messages.push(...userMessages(m.content, i))
  })

  const req: ChatRequest = { model: body.model, messages, max_tokens: body.max_tokens }
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length)
    req.stop = body.stop_sequences as string[]
  if (typeof body.temperature === 'number') req.temperature = body.temperature
  if (typeof body.top_p === 'number') req.top_p = body.top_p
  if (Array.isArray(body.tools) && body.tools.length) {
    req.tools = (body.tools as Record<string, unknown>[]).map(toTool)
    const choice = toToolChoice(body.tool_choice)
    if (choice.choice !== undefined) req.tool_choice = choice.choice
    if (choice.parallel === false) req.parallel_tool_calls = false
  }
  const metadata = isObject(body.metadata) ? body.metadata : undefined
  if (typeof metadata?.user_id === 'string') req.user = metadata.user_id
  if (body.stream === true) req.stream = true

  const native = req as Record<string, unknown>
  if (anthropicNative) {
    for (const k of ANTHROPIC_ONLY) if (body[k] !== undefined) native[k] = body[k]
  } else {
    const effort = thinkingToEffort(body.thinking)
    if (effort) req.reasoning_effort = effort
    if (typeof body.top_k === 'number') native.top_k = body.top_k
  }
  // Kept beside the native field: a target that does not speak Anthropic reads this one.
  const format = outputFormatToResponseFormat(body)
  if (format) req.response_format = format
  return req
}

/** Anthropic's structured output (GA `output_config.format` or beta `output_format`) as `response_format`. */
function outputFormatToResponseFormat(body: AnthropicMessagesBody): ChatRequest['response_format'] {
  const config = isObject(body.output_config) ? body.output_config : undefined
  const format = config?.format ?? body.output_format
  if (format == null) return undefined
  if (!isObject(format) || format.type !== 'json_schema' || !isObject(format.schema))
    throw invalid("output_config.format must be {type: 'json_schema', schema: {...}}", 'output_config.format')
  return { type: 'json_schema', json_schema: { name: 'response', schema: format.schema } }
}

/** A thinking budget as OpenAI's reasoning effort, for targets that do not speak Anthropic. */
export function thinkingToEffort(thinking: unknown): string | undefined {
  if (!isObject(thinking)) return undefined
  if (thinking.type === 'disabled') return undefined
  if (thinking.type === 'adaptive') return 'medium'
  const budget = typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : 0
  if (thinking.type !== 'enabled') return undefined
  return budget >= 16384 ? 'high' : budget >= 4096 ? 'medium' : 'low'
}

function systemParts(system: AnthropicMessagesBody['system']): string | ContentPart[] | undefined {
  if (system === undefined) return undefined
  if (typeof system === 'string') return system || undefined
  const parts = system.map((b, j) => {
    if (b.type !== 'text' || typeof b.text !== 'string')
      throw invalid(`system.${j}: only text blocks are allowed`, `system.${j}`)
    return textPart(b)
  })
  return parts.length ? parts : undefined
}

function textPart(b: AnthropicInBlock): ContentPart {
  const part: ContentPart = { type: 'text', text: String(b.text ?? '') }
  if (isObject(b.cache_control)) part.cache_control = b.cache_control as ContentPart['cache_control']
  return part
}

/** Image and document sources as OpenAI content parts (data URLs or plain URLs). */
function mediaPart(b: AnthropicInBlock, where: string): ContentPart {
  const source = isObject(b.source) ? b.source : undefined
  if (!source) throw invalid(`${where}.source: Field required`, `${where}.source`)
  let part: ContentPart
  if (b.type === 'image') {
    const url =
      source.type === 'base64'
        ? `data:${String(source.media_type)};base64,${String(source.data)}`
        : source.type === 'url'
          ? String(source.url)
          : undefined
    if (!url) throw invalid(`${where}.source.type: must be base64 or url`, `${where}.source.type`)
    part = { type: 'image_url', image_url: { url } }
  } else if (source.type === 'base64') {
    part = {
      type: 'file',
      file: { file_data: `data:${String(source.media_type)};base64,${String(source.data)}` },
    }
  } else if (source.type === 'text') {
    const data = Buffer.from(String(source.data ?? ''), 'utf8').toString('base64')
    part = { type: 'file', file: { file_data: `data:text/plain;base64,${data}` } }
  } else if (source.type === 'file') {
    part = { type: 'file', file: { file_id: String(source.file_id) } }
  } else {
    // A URL document: Anthropic-native, passed on as is (only Anthropic reads it).
    return { ...b } as ContentPart
  }
  if (b.type === 'document' && typeof b.title === 'string' && part.file) part.file.filename = b.title
  if (isObject(b.cache_control)) part.cache_control = b.cache_control as ContentPart['cache_control']
  return part
}

function contentParts(blocks: AnthropicInBlock[], where: string): ContentPart[] {
  return blocks.map((b, j) => {
    if (b.type === 'text') return textPart(b)
    if (b.type === 'image' || b.type === 'document') return mediaPart(b, `${where}.${j}`)
    return { ...b } as ContentPart
  })
}

/** A user turn: its tool results become tool messages (first, as Anthropic orders them), the rest one user message. */
function userMessages(content: string | AnthropicInBlock[], i: number): ChatMessage[] {
  if (typeof content === 'string') return [{ role: 'user', content }]
  const out: ChatMessage[] = []
  const rest: AnthropicInBlock[] = []
  content.forEach((b, j) => {
    if (b.type !== 'tool_result') return rest.push(b)
    if (typeof b.tool_use_id !== 'string')
      throw invalid(`messages.${i}.content.${j}.tool_use_id: Field required`, `messages.${i}.content.${j}`)
    const c = b.content
    const text =
      c === undefined
        ? ''
        : typeof c === 'string'
          ? c
          : contentParts(c as AnthropicInBlock[], `messages.${i}.content.${j}.content`)
    const msg: ChatMessage = {
      role: 'tool',
      tool_call_id: b.tool_use_id,
      content: b.is_error === true && typeof text === 'string' ? `Error: ${text}` : text,
    }
    if (isObject(b.cache_control)) (msg as Record<string, unknown>).cache_control = b.cache_control
    out.push(msg)
  })
  if (rest.length) out.push({ role: 'user', content: contentParts(rest, `messages.${i}.content`) })
  return out
}

function fromAnthropicAssistant(content: string | AnthropicInBlock[], i: number): ChatMessage {
  if (typeof content === 'string') return { role: 'assistant', content }
  const parts: ContentPart[] = []
  const answer: AnswerParts = { toolCalls: [], details: [] }
  content.forEach((b, j) => {
    if (b.type === 'text') parts.push(textPart(b))
    else if (b.type === 'thinking') {
      const signed =
        typeof b.signature === 'string' && b.signature
          ? signatureFromRoute(b.signature, ANTHROPIC_REASONING_FORMAT)
          : undefined
      answer.details.push({
        type: 'reasoning.text',
        index: answer.details.length,
        text: String(b.thinking ?? ''),
        ...(signed && { signature: signed.signature }),
        format: signed?.format ?? ANTHROPIC_REASONING_FORMAT,
      })
    } else if (b.type === 'redacted_thinking')
      answer.details.push({
        type: 'reasoning.encrypted',
        index: answer.details.length,
        data: String(b.data ?? ''),
        format: ANTHROPIC_REASONING_FORMAT,
      })
    else if (b.type === 'tool_use') {
      if (typeof b.id !== 'string' || typeof b.name !== 'string')
        throw invalid(`messages.${i}.content.${j}: tool_use needs id and name`, `messages.${i}.content.${j}`)
      answer.toolCalls.push({
        id: b.id,
        type: 'function',
        function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
        ...(isObject(b.cache_control) && { cache_control: b.cache_control }),
      })
    } else parts.push({ ...b } as ContentPart)
  })
  const plain = parts.every((p) => p.type === 'text' && p.cache_control === undefined)
  const msg: ChatMessage = {
    role: 'assistant',
    content: plain ? parts.map((p) => p.text).join('') || null : parts,
  }
  if (answer.details.length) {
    msg.reasoning_details = answer.details
    const text = answer.details.map((d) => d.text ?? '').join('')
    if (text) msg.reasoning = text
  }
  if (answer.toolCalls.length) msg.tool_calls = answer.toolCalls
  return msg
}

/** Anthropic tools as OpenAI function tools; server tools (web_search_...) go as sent. */
function toTool(t: Record<string, unknown>, j: number): Tool {
  if (t.type !== undefined && t.type !== 'custom') return { ...t, type: String(t.type) }
  if (typeof t.name !== 'string') throw invalid(`tools.${j}.name: Field required`, `tools.${j}.name`)
  const fn: NonNullable<Tool['function']> = { name: t.name }
  if (typeof t.description === 'string') fn.description = t.description
  if (isObject(t.input_schema)) fn.parameters = t.input_schema
  const tool: Tool = { type: 'function', function: fn }
  if (isObject(t.cache_control)) (tool as Record<string, unknown>).cache_control = t.cache_control
  return tool
}

function toToolChoice(choice: unknown): { choice?: unknown; parallel?: boolean } {
  if (!isObject(choice)) return {}
  const parallel = choice.disable_parallel_tool_use === true ? false : undefined
  switch (choice.type) {
    case 'auto':
      return { choice: 'auto', parallel }
    case 'any':
      return { choice: 'required', parallel }
    case 'none':
      return { choice: 'none' }
    case 'tool':
      return { choice: { type: 'function', function: { name: String(choice.name) } }, parallel }
  }
  return {}
}
