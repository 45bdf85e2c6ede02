import type { ChatMessage, Tool, ToolCall, Usage } from '../../core/schemas/index.js'
import {
  answerOf,
  applySampling,
  chatStreamSteps,
  invalid,
  isObject,
  optionalNumber,
  parsedArguments,
  type ChatAnswer,
  type InvokeBody,
  type InvokeExchange,
} from './invoke-body.js'

const HISTORY_ROLES: Record<string, ChatMessage['role']> = {
  USER: 'user',
  CHATBOT: 'assistant',
  SYSTEM: 'system',
}

/** Cohere's parameter types are Python-ish names (`str`, `int`, `List[str]`); JSON Schema wants its own. */
function schemaType(t: unknown): string | undefined {
  const s = typeof t === 'string' ? t.toLowerCase() : ''
  if (s === 'str' || s === 'string') return 'string'
  if (s === 'int' || s === 'integer') return 'integer'
  if (s === 'float' || s === 'number') return 'number'
  if (s === 'bool' || s === 'boolean') return 'boolean'
  if (s.startsWith('list')) return 'array'
  if (s.startsWith('dict')) return 'object'
  return undefined
}

function toolsOf(v: unknown): Tool[] | undefined {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v)) throw invalid('tools: expected a list', 'tools')
  return v.map((t, i) => {
    if (!isObject(t) || typeof t.name !== 'string') throw invalid(`tools.${i}.name: required`, 'tools')
    const properties: Record<string, unknown> = {}
    const required: string[] = []
    const defs = isObject(t.parameter_definitions) ? t.parameter_definitions : {}
    for (const [name, def] of Object.entries(defs)) {
      const d = isObject(def) ? def : {}
      const type = schemaType(d.type)
      properties[name] = {
        ...(type && { type }),
        ...(typeof d.description === 'string' && { description: d.description }),
      }
      if (d.required === true) required.push(name)
    }
    return {
      type: 'function',
      function: {
        name: t.name,
        ...(typeof t.description === 'string' && { description: t.description }),
        parameters: { type: 'object', properties, ...(required.length && { required }) },
      },
    }
  })
}

/** Cohere's tool results name the call they answer; the unified request needs the call, then its result. */
function toolResultMessages(v: unknown): ChatMessage[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw invalid('tool_results: expected a list', 'tool_results')
  const calls: ToolCall[] = []
  const results: ChatMessage[] = []
  v.forEach((r, i) => {
    const call = isObject(r) && isObject(r.call) ? r.call : undefined
    if (!call || typeof call.name !== 'string')
      throw invalid(`tool_results.${i}.call.name: required`, 'tool_results')
    const id = `cohere_call_${i}`
    calls.push({
      id,
      type: 'function',
      function: { name: call.name, arguments: JSON.stringify(call.parameters ?? {}) },
    })
    results.push({
      role: 'tool',
      tool_call_id: id,
      content: JSON.stringify(isObject(r) ? (r.outputs ?? []) : []),
    })
  })
  return [{ role: 'assistant', content: null, tool_calls: calls }, ...results]
}

function historyMessages(v: unknown): ChatMessage[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw invalid('chat_history: expected a list', 'chat_history')
  const out: ChatMessage[] = []
  v.forEach((h, i) => {
    const role = isObject(h) && typeof h.role === 'string' ? HISTORY_ROLES[h.role] : undefined
    if (!role || !isObject(h) || typeof h.message !== 'string')
      throw invalid(
        `chat_history.${i}: expected {role: USER | CHATBOT | SYSTEM, message: string}`,
        `chat_history.${i}`,
      )
    // A CHATBOT turn that only called tools has no text; its calls come back through tool_results.
    if (h.message) out.push({ role, content: h.message })
  })
  return out
}

function finishReason(finish: string | null): string {
  if (finish === 'length') return 'MAX_TOKENS'
  if (finish === 'content_filter') return 'ERROR_TOXIC'
  return 'COMPLETE'
}

function meta(u: Usage | undefined) {
  return {
    api_version: { version: '1' },
    billed_units: { input_tokens: u?.prompt_tokens ?? 0, output_tokens: u?.completion_tokens ?? 0 },
  }
}

/**
 * Cohere Command R's body (`message`, `chat_history` of USER/CHATBOT turns, `preamble`, `tools`
 * with `parameter_definitions`, `tool_results`, `documents`, `p`, `stop_sequences`), answered with
 * `text`, `finish_reason`, `tool_calls` and `chat_history`; streamed as Cohere's stream-start,
 * text-generation, tool-calls-generation and stream-end events.
 */
export function cohereCommandExchange(body: InvokeBody, model: string): InvokeExchange {
  const message = body.message
  if (typeof message !== 'string')
    throw invalid('Malformed input request: #: required key [message] not found', 'message')
  const toolTurn = toolResultMessages(body.tool_results)
  if (!message && !toolTurn.length) throw invalid('message: must not be empty', 'message')
  const messages: ChatMessage[] = []
  if (typeof body.preamble === 'string' && body.preamble)
    messages.push({ role: 'system', content: body.preamble })
  if (Array.isArray(body.documents) && body.documents.length)
    messages.push({ role: 'system', content: `Documents:\n${JSON.stringify(body.documents)}` })
  const history = historyMessages(body.chat_history)
  messages.push(...history)
  if (message) messages.push({ role: 'user', content: message })
  messages.push(...toolTurn)
  const request = applySampling({ model, messages }, body, {
    maxTokens: 'max_tokens',
    temperature: 'temperature',
    topP: 'p',
    stop: 'stop_sequences',
  })
  const seed = optionalNumber(body, 'seed', true)
  if (seed !== undefined) request.seed = seed
  const frequency = optionalNumber(body, 'frequency_penalty')
  if (frequency !== undefined) request.frequency_penalty = frequency
  const presence = optionalNumber(body, 'presence_penalty')
  if (presence !== undefined) request.presence_penalty = presence
  const tools = toolsOf(body.tools)
  if (tools?.length) request.tools = tools

  const priorHistory = Array.isArray(body.chat_history) ? body.chat_history : []
  const toolCalls = (calls: ToolCall[]) =>
    calls.map((c) => ({ name: c.function.name, parameters: parsedArguments(c.function.arguments) }))
  const response = (a: ChatAnswer) => ({
    response_id: a.id,
    text: a.text,
    generation_id: a.id,
    chat_history: [
      ...priorHistory,
      ...(message ? [{ role: 'USER', message }] : []),
      {
        role: 'CHATBOT',
        message: a.text,
        ...(a.toolCalls.length && { tool_calls: toolCalls(a.toolCalls) }),
      },
    ],
    finish_reason: finishReason(a.finish),
    ...(a.toolCalls.length && { tool_calls: toolCalls(a.toolCalls) }),
    meta: meta(a.usage),
  })
  return {
    request,
    respond: (res) => response(answerOf(res)),
    async *stream(items, meter) {
      let started = false
      let text = ''
      for await (const step of chatStreamSteps(items)) {
        if (!started) {
          started = true
          yield { is_finished: false, event_type: 'stream-start', generation_id: step.id }
        }
        if (step.kind === 'text') {
          text += step.text
          yield { is_finished: false, event_type: 'text-generation', text: step.text }
          continue
        }
        if (step.toolCalls.length)
          yield {
            is_finished: false,
            event_type: 'tool-calls-generation',
            text,
            tool_calls: toolCalls(step.toolCalls),
          }
        yield meter.closing({
          is_finished: true,
          event_type: 'stream-end',
          finish_reason: finishReason(step.finish),
          response: response({ ...step, text }),
        })
      }
    },
  }
}
