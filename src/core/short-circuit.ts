import type { GatewayContext } from './context.js'
import {
  chatResponseToResponses,
  chatResponseToTextCompletion,
  chatStreamToResponses,
  chatStreamToTextCompletion,
} from './convert/index.js'
import { GatewayError } from './errors.js'
import { pluginError, type PluginShortCircuit } from './plugins.js'
import type { ChatChunk, ChatResponse, ResponsesRequest, Usage } from './schemas/index.js'
import type { ChatStreamItem, JsonResult, StreamResult } from './provider-adapter.js'

/** A plugin's answer to a non-streamed request, as the route's unified result; its error is thrown. */
export function shortCircuitJson(
  ctx: GatewayContext,
  req: unknown,
  answer: PluginShortCircuit,
): JsonResult<unknown> {
  const response = answerOf(ctx, answer)
  if (!isChatResponse(response)) return { body: response, usage: usageOf(response) }
  if (ctx.requestType === 'text_completion')
    return { body: chatResponseToTextCompletion(response), usage: response.usage }
  if (ctx.requestType === 'responses')
    return { body: chatResponseToResponses(response, req as ResponsesRequest), usage: response.usage }
  return { body: response, usage: response.usage }
}

/**
 * A plugin's answer to a streamed request: a chat completion streamed as chunks (converted for
 * text-completion and Responses streams), so that the route writes it in its own format.
 */
export function shortCircuitStream(
  ctx: GatewayContext,
  req: unknown,
  answer: PluginShortCircuit,
): StreamResult<{ usage?: Usage }> {
  const response = answerOf(ctx, answer)
  if (!isChatResponse(response)) {
    throw new GatewayError(
      'plugin_error',
      `plugin ${ctx.facts.shortCircuitedBy ?? ''} answered a stream with something other than a chat completion`,
      { retryable: false },
    )
  }
  const items = chatResponseItems(response)
  if (ctx.requestType === 'text_completion_stream') return { items: chatStreamToTextCompletion(items) }
  if (ctx.requestType === 'responses_stream')
    return { items: chatStreamToResponses(items, req as ResponsesRequest) }
  return { items }
}

function answerOf(ctx: GatewayContext, answer: PluginShortCircuit): unknown {
  const by = ctx.facts.shortCircuitedBy ?? 'plugin'
  if (answer.error !== undefined) throw pluginError(by, answer.error)
  if (answer.response === undefined || answer.response === null) {
    throw new GatewayError(
      'plugin_error',
      `plugin ${by} short-circuited with neither a response nor an error`,
      {
        retryable: false,
        extra: { plugin: by },
      },
    )
  }
  return answer.response
}

function isChatResponse(v: unknown): v is ChatResponse {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as { object?: unknown }).object === 'chat.completion' &&
    Array.isArray((v as { choices?: unknown }).choices)
  )
}

function usageOf(v: unknown): Usage | undefined {
  const u = typeof v === 'object' && v !== null ? (v as { usage?: unknown }).usage : undefined
  return typeof u === 'object' && u !== null ? (u as Usage) : undefined
}

/** A whole chat completion as the chunks a provider would have streamed: role, content, tool calls, finish, usage. */
export async function* chatResponseItems(res: ChatResponse): AsyncGenerator<ChatStreamItem> {
  const base = {
    id: res.id,
    object: 'chat.completion.chunk' as const,
    created: res.created,
    model: res.model,
  }
  for (const choice of res.choices) {
    const m = choice.message
    yield {
      chunk: {
        ...base,
        choices: [{ index: choice.index, delta: { role: 'assistant', content: '' }, finish_reason: null }],
      },
    }
    if (typeof m.content === 'string' && m.content !== '')
      yield {
        chunk: {
          ...base,
          choices: [{ index: choice.index, delta: { content: m.content }, finish_reason: null }],
        },
      }
    if (m.tool_calls?.length) {
      const tool_calls = m.tool_calls.map((t, index) => ({
        index,
        id: t.id,
        type: 'function' as const,
        function: t.function,
      }))
      yield {
        chunk: { ...base, choices: [{ index: choice.index, delta: { tool_calls }, finish_reason: null }] },
      }
    }
    yield {
      chunk: {
        ...base,
        choices: [{ index: choice.index, delta: {}, finish_reason: choice.finish_reason ?? 'stop' }],
      },
    }
  }
  if (res.usage) {
    const chunk: ChatChunk = { ...base, choices: [], usage: res.usage }
    yield { chunk, usage: res.usage, usageOnly: true }
  }
}
