import { GatewayError } from '../../core/errors.js'
import type { ChatMessage, ChatRequest } from '../../core/schemas/index.js'
import { JSON_OBJECT_INSTRUCTION, structuredFormatOf } from '../structured-output.js'
import type { ConverseCachePoint, ConverseContentBlock, ConverseMessage, ConverseRequest } from './types.js'

/** Thinking budgets for `reasoning_effort` on models that take Anthropic's `thinking`. */
const THINKING_BUDGET: Record<string, number> = { minimal: 1024, low: 2048, medium: 8192, high: 24576 }

const IMAGE_FORMATS = new Set(['png', 'jpeg', 'gif', 'webp'])

/** Anthropic's `cache_control` (with its `ttl`) as the Converse cache point that closes the same prefix. */
function cachePointOf(cacheControl: unknown): ConverseCachePoint | undefined {
  if (!cacheControl || typeof cacheControl !== 'object') return undefined
  const ttl = (cacheControl as { ttl?: unknown }).ttl
  return { type: 'default', ...((ttl === '1h' || ttl === '5m') && { ttl }) }
}

function cachePoint(part: object): ConverseContentBlock[] {
  const point = cachePointOf((part as { cache_control?: unknown }).cache_control)
  return point ? [{ cachePoint: point }] : []
}

function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content
  return (content ?? []).map((p) => p.text ?? '').join('')
}

function imageBlock(url: string): ConverseContentBlock {
  const m = /^data:image\/([a-z]+);base64,(.*)$/is.exec(url)
  if (!m) {
    throw new GatewayError(
      'invalid_request',
      'Bedrock takes images as data URLs (data:image/png;base64,...), not remote URLs',
      { param: 'messages', retryable: false },
    )
  }
  const format = m[1].toLowerCase() === 'jpg' ? 'jpeg' : m[1].toLowerCase()
  if (!IMAGE_FORMATS.has(format)) {
    throw new GatewayError('invalid_request', `Bedrock does not take ${format} images`, {
      param: 'messages',
      retryable: false,
    })
  }
  return { image: { format, source: { bytes: m[2] } } }
}

function userBlocks(content: ChatMessage['content']): ConverseContentBlock[] {
  if (typeof content === 'string') return content ? [{ text: content }] : []
  const out: ConverseContentBlock[] = []
  for (const part of content ?? []) {
    if (part.type === 'text' && part.text) out.push({ text: part.text })
    else if (part.type === 'image_url' && part.image_url) out.push(imageBlock(part.image_url.url))
    out.push(...cachePoint(part))
  }
  return out
}

function assistantBlocks(m: ChatMessage): ConverseContentBlock[] {
  const out: ConverseContentBlock[] = []
  for (const d of m.reasoning_details ?? []) {
    // Signatures are only meaningful to the model family that made them.
    const format = (d as Record<string, unknown>).format
    if (typeof format === 'string' && !format.startsWith('bedrock') && !format.startsWith('anthropic'))
      continue
    if (d.type === 'reasoning.text' && (d.text || d.signature))
      out.push({ reasoningContent: { reasoningText: { text: d.text ?? '', signature: d.signature } } })
    else if (d.type === 'reasoning.encrypted' && d.data)
      out.push({ reasoningContent: { redactedContent: d.data } })
  }
  out.push(...userBlocks(m.content ?? null))
  for (const call of m.tool_calls ?? []) {
    let input: unknown = {}
    try {
      input = call.function.arguments ? JSON.parse(call.function.arguments) : {}
    } catch {
      throw new GatewayError('invalid_request', `tool call ${call.id} has arguments that are not JSON`, {
        param: 'messages',
        retryable: false,
      })
    }
    out.push({ toolUse: { toolUseId: call.id, name: call.function.name, input } }, ...cachePoint(call))
  }
  return out
}

/** Appends blocks to the last message when it has the same role: Converse wants roles to alternate. */
function push(
  messages: ConverseMessage[],
  role: ConverseMessage['role'],
  blocks: ConverseContentBlock[],
): void {
  if (!blocks.length) return
  const last = messages[messages.length - 1]
  if (last?.role === role) last.content.push(...blocks)
  else messages.push({ role, content: blocks })
}

function toolChoiceOf(choice: unknown): NonNullable<ConverseRequest['toolConfig']>['toolChoice'] {
  if (choice === 'required') return { any: {} }
  if (choice === 'auto') return { auto: {} }
  if (choice && typeof choice === 'object') {
    const name = (choice as { function?: { name?: string } }).function?.name
    if (name) return { tool: { name } }
  }
  return undefined
}

/** A unified chat request as Bedrock's Converse body (the model goes in the path). */
export function toConverseRequest(req: ChatRequest, model: string): ConverseRequest {
  const system: NonNullable<ConverseRequest['system']> = []
  const messages: ConverseMessage[] = []
  for (const m of req.messages) {
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = textOf(m.content ?? null)
        if (text) system.push({ text })
        const marked = Array.isArray(m.content) ? m.content.findLast((p) => p.cache_control) : undefined
        const point = cachePointOf(marked?.cache_control ?? (m as Record<string, unknown>).cache_control)
        if (point) system.push({ cachePoint: point })
        break
      }
      case 'user':
        push(messages, 'user', userBlocks(m.content ?? null))
        break
      case 'assistant':
        push(messages, 'assistant', assistantBlocks(m))
        break
      case 'tool':
      case 'function':
        push(messages, 'user', [
          {
            toolResult: {
              toolUseId: m.tool_call_id ?? m.name ?? '',
              content: [{ text: textOf(m.content ?? null) }],
            },
          },
          // One cache point closes the result, whether the breakpoint was on the message or a part of it.
          ...cachePoint(
            'cache_control' in m
              ? m
              : Array.isArray(m.content)
                ? (m.content.findLast((p) => p.cache_control) ?? {})
                : {},
          ),
        ])
        break
    }
  }
  const out: ConverseRequest = { messages }
  const format = structuredFormatOf(req.response_format)
  if (format?.type === 'json_schema') {
    const jsonSchema = { schema: JSON.stringify(format.schema), name: format.name }
    if (format.description) Object.assign(jsonSchema, { description: format.description })
    out.outputConfig = { textFormat: { type: 'json_schema', structure: { jsonSchema } } }
  } else if (format?.type === 'json_object') {
    // Converse's structured output needs a schema; JSON mode becomes an instruction.
    system.push({ text: JSON_OBJECT_INSTRUCTION })
  }
  if (system.length) out.system = system
  const inference: NonNullable<ConverseRequest['inferenceConfig']> = {}
  const maxTokens = req.max_completion_tokens ?? req.max_tokens
  if (maxTokens != null) inference.maxTokens = maxTokens
  if (req.temperature != null) inference.temperature = req.temperature
  if (req.top_p != null) inference.topP = req.top_p
  if (req.stop != null) inference.stopSequences = typeof req.stop === 'string' ? [req.stop] : req.stop
  if (Object.keys(inference).length) out.inferenceConfig = inference

  const tools = (req.tools ?? []).filter((t) => t.function)
  if (tools.length) {
    out.toolConfig = {
      tools: tools.flatMap((t) => {
        const spec = {
          toolSpec: {
            name: t.function!.name,
            ...(t.function!.description && { description: t.function!.description }),
            inputSchema: { json: t.function!.parameters ?? { type: 'object', properties: {} } },
          },
        }
        // Anthropic-format tools carry cache_control on the tool, OpenAI-format ones on the function.
        const point = cachePointOf(
          (t as Record<string, unknown>).cache_control ??
            (t.function as Record<string, unknown>).cache_control,
        )
        return point ? [spec, { cachePoint: point }] : [spec]
      }),
    }
    const choice = toolChoiceOf(req.tool_choice)
    if (choice) out.toolConfig.toolChoice = choice
  }

  const open = req as Record<string, unknown>
  const extra: Record<string, unknown> = {
    ...(open.additionalModelRequestFields as Record<string, unknown> | undefined),
  }
  const anthropicModel = model.includes('anthropic.')
  if (anthropicModel && open.thinking && typeof open.thinking === 'object') extra.thinking = open.thinking
  else if (anthropicModel && req.reasoning_effort && req.reasoning_effort !== 'none') {
    const budget = THINKING_BUDGET[req.reasoning_effort] ?? THINKING_BUDGET.medium
    extra.thinking = { type: 'enabled', budget_tokens: budget }
    if ((inference.maxTokens ?? 0) <= budget) {
      out.inferenceConfig = { ...out.inferenceConfig, maxTokens: budget + (inference.maxTokens ?? 4096) }
    }
  }
  const turn = messages.findLast((m) => m.role === 'assistant')?.content ?? []
  if (anthropicModel && extra.thinking && turn.some((b) => b.toolUse) && !turn[0]?.reasoningContent) {
    // Claude refuses thinking when the tool turn sent back lost its signed reasoning (a client on
    // a route without signatures); this turn is then answered without thinking.
    delete extra.thinking
  }
  if (Object.keys(extra).length) out.additionalModelRequestFields = extra
  return out
}
