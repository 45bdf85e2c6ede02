import { GatewayError } from '../../core/errors.js'
import type { ChatMessage, ChatRequest, ContentPart } from '../../core/schemas/index.js'
import type { CohereChatRequest, CohereContentBlock, CohereMessage, CohereTool } from './types.js'

/** Cohere-only request fields a caller may send on the unified request; they go through as they are. */
const COHERE_FIELDS = [
  'k',
  'p',
  'safety_mode',
  'documents',
  'citation_options',
  'logprobs',
  'thinking',
  'priority',
  'strict_tools',
] as const

/** Turns a unified chat request into Cohere's `/v2/chat` body. */
export function toCohereRequest(req: ChatRequest, model: string, stream: boolean): CohereChatRequest {
  if (req.n != null && req.n > 1) {
    throw new GatewayError('invalid_request', 'cohere returns one choice per request; n must be 1', {
      param: 'n',
    })
  }
  const out: CohereChatRequest = { model, messages: req.messages.map(toCohereMessage) }
  if (stream) out.stream = true
  const maxTokens = req.max_completion_tokens ?? req.max_tokens
  if (maxTokens != null) out.max_tokens = maxTokens
  if (req.temperature != null) out.temperature = req.temperature
  if (req.top_p != null) out.p = req.top_p
  if (req.stop != null) out.stop_sequences = typeof req.stop === 'string' ? [req.stop] : req.stop
  if (req.seed != null) out.seed = req.seed
  if (req.frequency_penalty != null) out.frequency_penalty = req.frequency_penalty
  if (req.presence_penalty != null) out.presence_penalty = req.presence_penalty
  if (req.tools?.length) {
    out.tools = req.tools.filter((t) => t.function).map(toCohereTool)
    if (req.tools.some((t) => t.function?.strict === true)) out.strict_tools = true
  }
  const choice = toolChoice(req.tool_choice)
  if (choice) out.tool_choice = choice
  const format = responseFormat(req.response_format)
  if (format) out.response_format = format
  if (req.reasoning_effort != null) {
    out.thinking = { type: req.reasoning_effort === 'none' ? 'disabled' : 'enabled' }
  }
  const extra = req as Record<string, unknown>
  for (const field of COHERE_FIELDS)
    if (extra[field] !== undefined) (out as Record<string, unknown>)[field] = extra[field]
  return out
}

function toCohereMessage(m: ChatMessage): CohereMessage {
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: textOf(m.content) }
    case 'user':
      return { role: 'user', content: userContent(m.content) }
    case 'assistant': {
      const text = textOf(m.content)
      if (!m.tool_calls?.length) return { role: 'assistant', content: text }
      // Cohere's assistant turn that calls tools carries its words as the tool plan.
      return {
        role: 'assistant',
        ...(text && { tool_plan: text }),
        tool_calls: m.tool_calls.map((c) => ({
          id: c.id,
          type: 'function' as const,
          function: { name: c.function.name, arguments: c.function.arguments },
        })),
      }
    }
    case 'tool':
    case 'function':
      return {
        role: 'tool',
        tool_call_id: m.tool_call_id ?? m.name ?? '',
        content: typeof m.content === 'string' ? m.content : textOf(m.content),
      }
  }
}

function userContent(content: ChatMessage['content']): string | CohereContentBlock[] {
  if (typeof content === 'string') return content
  if (!content) return ''
  return content.map(toCohereBlock)
}

function toCohereBlock(part: ContentPart): CohereContentBlock {
  if (part.type === 'text') return { type: 'text', text: part.text ?? '' }
  if (part.type === 'image_url' && part.image_url) {
    return {
      type: 'image_url',
      image_url: { url: part.image_url.url, ...(part.image_url.detail && { detail: part.image_url.detail }) },
    }
  }
  throw new GatewayError('invalid_request', `cohere does not accept ${part.type} content`, {
    param: 'messages',
  })
}

function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content
  if (!content) return ''
  return content
    .filter((p) => p.type === 'text')
    .map((p) => p.text ?? '')
    .join('')
}

function toCohereTool(t: NonNullable<ChatRequest['tools']>[number]): CohereTool {
  const f = t.function!
  return {
    type: 'function',
    function: {
      name: f.name,
      ...(f.description !== undefined && { description: f.description }),
      parameters: f.parameters ?? { type: 'object', properties: {} },
    },
  }
}

/** Cohere knows only "must call a tool" and "must not"; `auto` is its default. */
function toolChoice(choice: unknown): 'REQUIRED' | 'NONE' | undefined {
  if (choice === 'none') return 'NONE'
  if (choice === 'required') return 'REQUIRED'
  if (choice && typeof choice === 'object' && (choice as { type?: unknown }).type === 'function') {
    return 'REQUIRED'
  }
  return undefined
}

function responseFormat(format: unknown): CohereChatRequest['response_format'] {
  if (!format || typeof format !== 'object') return undefined
  const f = format as { type?: string; json_schema?: { schema?: unknown } }
  if (f.type === 'json_object') return { type: 'json_object' }
  if (f.type === 'json_schema') {
    return {
      type: 'json_object',
      ...(f.json_schema?.schema !== undefined && { json_schema: f.json_schema.schema }),
    }
  }
  return undefined
}
