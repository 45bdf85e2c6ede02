import { GatewayError } from '../errors.js'
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  ReasoningDetail,
  ResponsesRequest,
  Tool,
  ToolCall,
} from '../schemas/index.js'
import { isRecord, readReasoningCarrier } from './reasoning-carrier.js'

type Item = Record<string, unknown>

/** A chat request with the open fields this conversion sets beyond the declared ones. */
type ConvertedChatRequest = ChatRequest & { metadata?: unknown }

/**
 * Turns a Responses request into a chat completion request, for providers that only speak chat.
 * Only fields chat can express are carried; anything that needs server-side state or built-in
 * tools is refused with a clear error rather than silently dropped.
 */
export function responsesRequestToChat(req: ResponsesRequest): ChatRequest {
  if (req.previous_response_id) {
    throw new GatewayError(
      'unsupported_operation',
      'previous_response_id needs a provider with stored responses',
      {
        param: 'previous_response_id',
      },
    )
  }
  const conversation = (req as Item).conversation
  if (conversation !== undefined && conversation !== null) {
    throw new GatewayError('unsupported_operation', 'conversation needs a provider with stored responses', {
      param: 'conversation',
    })
  }

  const messages: ChatMessage[] = []
  if (typeof req.instructions === 'string' && req.instructions !== '') {
    messages.push({ role: 'system', content: req.instructions })
  }
  if (typeof req.input === 'string') messages.push({ role: 'user', content: req.input })
  else if (Array.isArray(req.input)) messages.push(...inputItemsToMessages(req.input))
  if (messages.length === 0)
    throw new GatewayError('invalid_request', 'input is required', { param: 'input' })

  const out: ConvertedChatRequest = { model: req.model, messages }
  if (req.stream !== undefined) out.stream = req.stream
  if (req.max_output_tokens !== undefined && req.max_output_tokens !== null) {
    out.max_completion_tokens = req.max_output_tokens
  }
  if (req.temperature !== undefined) out.temperature = req.temperature
  if (req.top_p !== undefined) out.top_p = req.top_p
  if (req.parallel_tool_calls !== undefined) out.parallel_tool_calls = req.parallel_tool_calls
  if (req.user !== undefined) out.user = req.user
  if (req.metadata !== undefined) out.metadata = req.metadata
  if (req.tools !== undefined) out.tools = req.tools.map(responsesToolToChat)
  if (req.tool_choice !== undefined) out.tool_choice = responsesToolChoiceToChat(req.tool_choice)
  const effort = req.reasoning?.effort
  if (typeof effort === 'string') out.reasoning_effort = effort
  const responseFormat = textFormatToResponseFormat(req.text?.format)
  if (responseFormat !== undefined) out.response_format = responseFormat
  if (req.fallbacks !== undefined) out.fallbacks = req.fallbacks
  return out
}

function inputItemsToMessages(items: Item[]): ChatMessage[] {
  const extras = collectToolCallExtras(items)
  const messages: ChatMessage[] = []
  // Reasoning belongs to the assistant turn that follows it; chat has no place for it elsewhere.
  let pending: ReasoningDetail[] = []

  for (const item of items) {
    const type = item.type ?? 'message'
    switch (type) {
      case 'message': {
        const message = messageItemToChat(item)
        if (message.role === 'assistant') attachReasoning(message, pending)
        pending = []
        messages.push(message)
        break
      }
      case 'function_call': {
        const call = functionCallItemToToolCall(item, extras)
        const last = messages[messages.length - 1]
        let target: ChatMessage
        if (last?.role === 'assistant') {
          target = last
        } else {
          target = { role: 'assistant', content: null }
          messages.push(target)
        }
        attachReasoning(target, pending)
        pending = []
        ;(target.tool_calls ??= []).push(call)
        break
      }
      case 'function_call_output': {
        const callId = item.call_id
        if (typeof callId !== 'string' || callId === '') {
          throw new GatewayError('invalid_request', 'a function_call_output item needs a call_id', {
            param: 'input',
          })
        }
        messages.push({ role: 'tool', tool_call_id: callId, content: toolOutputToContent(item.output) })
        pending = []
        break
      }
      case 'reasoning':
        pending.push(...reasoningItemToDetails(item))
        break
      case 'item_reference':
        throw new GatewayError(
          'unsupported_operation',
          'item_reference needs a provider with stored responses',
          {
            param: 'input',
          },
        )
      default:
        return chatCannotTake(`input item type '${String(type)}'`)
    }
  }
  return messages
}

function attachReasoning(message: ChatMessage, details: ReasoningDetail[]): void {
  if (details.length === 0) return
  message.reasoning_details = [...(message.reasoning_details ?? []), ...details]
}

const MESSAGE_ROLES = new Set(['user', 'assistant', 'system', 'developer'])

function messageItemToChat(item: Item): ChatMessage {
  const role = item.role
  if (typeof role !== 'string' || !MESSAGE_ROLES.has(role)) {
    throw new GatewayError(
      'invalid_request',
      `input message role must be user, assistant, system or developer`,
      {
        param: 'input',
      },
    )
  }
  const content = item.content
  if (role === 'assistant') return assistantItemToChat(content)
  const chatRole = role as 'user' | 'system' | 'developer'
  if (typeof content === 'string') return { role: chatRole, content }
  if (Array.isArray(content)) return { role: chatRole, content: content.map(inputPartToChat) }
  throw new GatewayError('invalid_request', 'input message content must be a string or a list of parts', {
    param: 'input',
  })
}

/** Assistant turns become plain text, which every chat provider accepts for the assistant role. */
function assistantItemToChat(content: unknown): ChatMessage {
  if (typeof content === 'string') return { role: 'assistant', content }
  if (!Array.isArray(content)) return { role: 'assistant', content: null }
  let text = ''
  let refusal: string | undefined
  for (const part of content) {
    if (!isRecord(part)) continue
    if (part.type === 'refusal' && typeof part.refusal === 'string') refusal = (refusal ?? '') + part.refusal
    else if (typeof part.text === 'string') text += part.text
  }
  const message: ChatMessage = { role: 'assistant', content: text }
  if (refusal !== undefined) message.refusal = refusal
  return message
}

function inputPartToChat(part: unknown): ContentPart {
  if (!isRecord(part)) {
    throw new GatewayError('invalid_request', 'each content part must be an object', { param: 'input' })
  }
  switch (part.type) {
    case 'input_text':
    case 'output_text':
    case 'text':
      return { type: 'text', text: typeof part.text === 'string' ? part.text : '' }
    case 'input_image':
      return inputImageToChat(part)
    case 'input_file':
      return inputFileToChat(part)
    case 'input_audio':
      if (isRecord(part.input_audio)) {
        const { data, format } = part.input_audio
        if (typeof data === 'string' && typeof format === 'string') {
          return { type: 'input_audio', input_audio: { data, format } }
        }
      }
      throw new GatewayError('invalid_request', 'input_audio needs input_audio.data and input_audio.format', {
        param: 'input',
      })
    default:
      return chatCannotTake(`content part type '${String(part.type)}'`)
  }
}

function inputImageToChat(part: Item): ContentPart {
  const raw = part.image_url
  const url =
    typeof raw === 'string' ? raw : isRecord(raw) && typeof raw.url === 'string' ? raw.url : undefined
  const detail = typeof part.detail === 'string' ? part.detail : undefined
  if (url) return { type: 'image_url', image_url: detail ? { url, detail } : { url } }
  if (typeof part.file_id === 'string') return { type: 'file', file: { file_id: part.file_id } }
  throw new GatewayError('invalid_request', 'input_image needs image_url or file_id', { param: 'input' })
}

function inputFileToChat(part: Item): ContentPart {
  const file: NonNullable<ContentPart['file']> = {}
  if (typeof part.file_data === 'string') file.file_data = part.file_data
  if (typeof part.file_id === 'string') file.file_id = part.file_id
  if (typeof part.filename === 'string') file.filename = part.filename
  if (file.file_data === undefined && file.file_id === undefined) {
    if (typeof part.file_url === 'string') {
      throw new GatewayError(
        'unsupported_operation',
        'input_file with file_url cannot be sent through chat completions; send file_data',
        {
          param: 'input',
        },
      )
    }
    throw new GatewayError('invalid_request', 'input_file needs file_data or file_id', { param: 'input' })
  }
  return { type: 'file', file }
}

function toolOutputToContent(output: unknown): string | ContentPart[] {
  if (typeof output === 'string') return output
  if (Array.isArray(output)) {
    const parts = output.map(inputPartToChat)
    // Many providers accept only text in tool results; keep text-only output a plain string.
    if (parts.every((p) => p.type === 'text')) return parts.map((p) => p.text ?? '').join('')
    return parts
  }
  return output === undefined || output === null ? '' : JSON.stringify(output)
}

function functionCallItemToToolCall(item: Item, extras: Map<string, Record<string, unknown>>): ToolCall {
  const { call_id: callId, name } = item
  if (typeof callId !== 'string' || callId === '' || typeof name !== 'string' || name === '') {
    throw new GatewayError('invalid_request', 'a function_call item needs call_id and name', {
      param: 'input',
    })
  }
  const args = typeof item.arguments === 'string' ? item.arguments : JSON.stringify(item.arguments ?? {})
  const call: ToolCall = { id: callId, type: 'function', function: { name, arguments: args } }
  const extra = extras.get(callId)
  if (extra) call.extra_content = extra
  return call
}

/** Tool call signatures may ride in any reasoning item of the input, so they are gathered first. */
function collectToolCallExtras(items: Item[]): Map<string, Record<string, unknown>> {
  const extras = new Map<string, Record<string, unknown>>()
  for (const item of items) {
    if (item.type !== 'reasoning' || typeof item.encrypted_content !== 'string') continue
    const carrier = readReasoningCarrier(item.encrypted_content)
    for (const [id, extra] of Object.entries(carrier?.tool_calls ?? {})) extras.set(id, extra)
  }
  return extras
}

function reasoningItemToDetails(item: Item): ReasoningDetail[] {
  const encrypted = typeof item.encrypted_content === 'string' ? item.encrypted_content : undefined
  const carrier = encrypted === undefined ? undefined : readReasoningCarrier(encrypted)
  // Our own carrier holds the provider's details verbatim; summary and content repeat its text.
  if (carrier) return carrier.details ?? []

  const details: ReasoningDetail[] = []
  for (const part of Array.isArray(item.summary) ? item.summary : []) {
    if (isRecord(part) && typeof part.text === 'string' && part.text !== '') {
      details.push({ type: 'reasoning.summary', summary: part.text })
    }
  }
  for (const part of Array.isArray(item.content) ? item.content : []) {
    if (isRecord(part) && typeof part.text === 'string' && part.text !== '') {
      details.push({ type: 'reasoning.text', text: part.text })
    }
  }
  if (encrypted) details.push({ type: 'reasoning.encrypted', data: encrypted })
  return details
}

function responsesToolToChat(tool: Item): Tool {
  if (tool.type !== 'function') {
    throw new GatewayError(
      'unsupported_operation',
      `tool type '${String(tool.type)}' is a built-in Responses tool; a provider that only speaks chat completions accepts function tools only`,
      { param: 'tools' },
    )
  }
  if (typeof tool.name !== 'string' || tool.name === '') {
    throw new GatewayError('invalid_request', 'a function tool needs a name', { param: 'tools' })
  }
  const fn: NonNullable<Tool['function']> = { name: tool.name }
  if (typeof tool.description === 'string') fn.description = tool.description
  if (isRecord(tool.parameters)) fn.parameters = tool.parameters
  if (typeof tool.strict === 'boolean' || tool.strict === null) fn.strict = tool.strict
  return { type: 'function', function: fn }
}

function responsesToolChoiceToChat(choice: unknown): unknown {
  if (typeof choice === 'string' || choice === null) return choice
  if (isRecord(choice)) {
    if (choice.type === 'function' && typeof choice.name === 'string') {
      return { type: 'function', function: { name: choice.name } }
    }
    if (choice.type === 'allowed_tools' && Array.isArray(choice.tools)) {
      return {
        type: 'allowed_tools',
        allowed_tools: { mode: choice.mode ?? 'auto', tools: choice.tools.map(allowedToolToChat) },
      }
    }
  }
  throw new GatewayError(
    'unsupported_operation',
    'tool_choice can only name function tools for a provider that only speaks chat completions',
    { param: 'tool_choice' },
  )
}

function allowedToolToChat(tool: unknown): unknown {
  if (isRecord(tool) && tool.type === 'function' && typeof tool.name === 'string') {
    return { type: 'function', function: { name: tool.name } }
  }
  throw new GatewayError('unsupported_operation', 'allowed_tools can only list function tools here', {
    param: 'tool_choice',
  })
}

function textFormatToResponseFormat(format: unknown): unknown {
  if (format === undefined || format === null) return undefined
  if (!isRecord(format) || format.type === 'text') return undefined
  if (format.type === 'json_object') return { type: 'json_object' }
  if (format.type === 'json_schema') {
    const schema: Item = { name: format.name }
    if (format.description !== undefined) schema.description = format.description
    if (format.schema !== undefined) schema.schema = format.schema
    if (format.strict !== undefined) schema.strict = format.strict
    return { type: 'json_schema', json_schema: schema }
  }
  throw new GatewayError(
    'unsupported_operation',
    `text.format type '${String(format.type)}' is not supported here`,
    {
      param: 'text.format',
    },
  )
}

/** Refuses a part of a Responses request that a provider speaking only chat completions cannot take. */
function chatCannotTake(what: string): never {
  throw new GatewayError(
    'unsupported_operation',
    `${what} cannot be sent to a provider that only speaks chat completions`,
    { param: 'input' },
  )
}
