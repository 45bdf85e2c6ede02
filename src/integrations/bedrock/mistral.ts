import type { ChatMessage, ChatRequest, Tool, ToolCall, Usage } from '../../core/schemas/index.js'
import {
  answerOf,
  applySampling,
  chatStreamSteps,
  textFamilyExchange,
  invalid,
  isObject,
  optionalNumber,
  requiredText,
  type InvokeBody,
  type InvokeExchange,
  type SamplingFields,
} from './invoke-body.js'
import { promptToMessages } from './prompt-template.js'

/** Mistral's sampling settings, the same in its text and chat bodies. */
const MISTRAL_SAMPLING: SamplingFields = {
  maxTokens: 'max_tokens',
  temperature: 'temperature',
  topP: 'top_p',
  stop: 'stop',
}

/** Mistral's stop reasons on Bedrock: `stop`, `length`, `tool_calls`. */
function stopReason(finish: string | null): string {
  return finish === 'length' ? 'length' : finish === 'tool_calls' ? 'tool_calls' : 'stop'
}

/**
 * Mistral's text completion body (`prompt` in `[INST]` form, `max_tokens`, `stop`, `temperature`,
 * `top_p`, `top_k`), answered with `outputs: [{text, stop_reason}]`.
 */
export function mistralTextExchange(body: InvokeBody, model: string): InvokeExchange {
  const request = applySampling(
    { model, messages: promptToMessages(requiredText(body, 'prompt')) },
    body,
    MISTRAL_SAMPLING,
  )
  optionalNumber(body, 'top_k')
  return textFamilyExchange(request, {
    answer: (a) => ({ outputs: [{ text: a.text, stop_reason: stopReason(a.finish) }] }),
    text: (text) => ({ outputs: [{ text, stop_reason: null }] }),
    end: (a) => ({ outputs: [{ text: '', stop_reason: stopReason(a.finish) }] }),
  })
}

function contentText(content: unknown, at: string): string | null {
  if (content === null || content === undefined) return null
  if (typeof content === 'string') return content
  if (Array.isArray(content))
    return content.map((c) => (isObject(c) && typeof c.text === 'string' ? c.text : '')).join('')
  throw invalid(`${at}.content: expected a string`, `${at}.content`)
}

function toolCallsOf(v: unknown, at: string): ToolCall[] | undefined {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v)) throw invalid(`${at}.tool_calls: expected a list`, `${at}.tool_calls`)
  return v.map((c, i) => {
    const fn = isObject(c) && isObject(c.function) ? c.function : undefined
    if (!fn || typeof fn.name !== 'string')
      throw invalid(`${at}.tool_calls.${i}.function.name: required`, `${at}.tool_calls`)
    const args = typeof fn.arguments === 'string' ? fn.arguments : JSON.stringify(fn.arguments ?? {})
    return {
      id: typeof c.id === 'string' ? c.id : `call_${i}`,
      type: 'function',
      function: { name: fn.name, arguments: args },
    }
  })
}

function chatMessages(body: InvokeBody): ChatMessage[] {
  const list = body.messages
  if (!Array.isArray(list) || !list.length) throw invalid('messages: must be a non-empty list', 'messages')
  return list.map((m: unknown, i): ChatMessage => {
    const at = `messages.${i}`
    if (!isObject(m)) throw invalid(`${at}: expected an object`, at)
    const content = contentText(m.content, at)
    switch (m.role) {
      case 'system':
      case 'user':
        return { role: m.role, content: content ?? '' }
      case 'assistant': {
        const calls = toolCallsOf(m.tool_calls, at)
        return { role: 'assistant', content: content || null, ...(calls && { tool_calls: calls }) }
      }
      case 'tool':
        if (typeof m.tool_call_id !== 'string')
          throw invalid(`${at}.tool_call_id: required for a tool message`, `${at}.tool_call_id`)
        return { role: 'tool', tool_call_id: m.tool_call_id, content: content ?? '' }
    }
    throw invalid(`${at}.role: must be one of system, user, assistant, tool`, `${at}.role`)
  })
}

function toolsOf(v: unknown): Tool[] | undefined {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v)) throw invalid('tools: expected a list', 'tools')
  return v.map((t, i) => {
    const fn = isObject(t) && isObject(t.function) ? t.function : undefined
    if (!fn || typeof fn.name !== 'string') throw invalid(`tools.${i}.function.name: required`, 'tools')
    return {
      type: 'function',
      function: {
        name: fn.name,
        ...(typeof fn.description === 'string' && { description: fn.description }),
        parameters: isObject(fn.parameters) ? fn.parameters : { type: 'object', properties: {} },
      },
    }
  })
}

const TOOL_CHOICE: Record<string, ChatRequest['tool_choice']> = {
  auto: 'auto',
  any: 'required',
  none: 'none',
}

function usageOut(u: Usage | undefined) {
  const prompt = u?.prompt_tokens ?? 0
  const completion = u?.completion_tokens ?? 0
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
}

/**
 * Mistral Large 2's chat body (`messages` with system/user/assistant/tool roles, OpenAI-style
 * `tools`, `tool_choice` auto/any/none), answered with `choices: [{index, message, stop_reason}]`.
 * Its stream chunks carry the new text in `choices[0].message.content`, not a `delta`.
 */
export function mistralChatExchange(body: InvokeBody, model: string): InvokeExchange {
  const request = applySampling({ model, messages: chatMessages(body) }, body, MISTRAL_SAMPLING)
  const tools = toolsOf(body.tools)
  if (tools?.length) request.tools = tools
  if (body.tool_choice !== undefined) {
    const choice = typeof body.tool_choice === 'string' ? TOOL_CHOICE[body.tool_choice] : undefined
    if (!choice) throw invalid('tool_choice: must be one of auto, any, none', 'tool_choice')
    request.tool_choice = choice
  }
  const head = (id: string, object: string) => ({
    id,
    object,
    created: Math.floor(Date.now() / 1000),
    model: model.slice(model.indexOf('/') + 1),
  })
  return {
    request,
    respond(res) {
      const a = answerOf(res)
      return {
        ...head(a.id, 'chat.completion'),
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: a.text,
              ...(a.toolCalls.length && { tool_calls: a.toolCalls }),
            },
            stop_reason: stopReason(a.finish),
          },
        ],
        usage: usageOut(a.usage),
      }
    },
    async *stream(items, meter) {
      for await (const step of chatStreamSteps(items)) {
        const message =
          step.kind === 'text'
            ? { role: 'assistant', content: step.text }
            : {
                role: 'assistant',
                content: '',
                ...(step.toolCalls.length && { tool_calls: step.toolCalls }),
              }
        const chunk = {
          ...head(step.id, 'chat.completion.chunk'),
          choices: [
            { index: 0, message, stop_reason: step.kind === 'text' ? null : stopReason(step.finish) },
          ],
        }
        yield step.kind === 'text' ? chunk : meter.closing({ ...chunk, usage: usageOut(step.usage) })
      }
    },
  }
}
