import { Type, type Static } from '@sinclair/typebox'
import type { GatewayContext } from '../core/context.js'
import type { GatewayPlugin, StreamChunk } from '../core/plugins.js'

/** Bifrost's jsonparser configuration (`plugins[].config` of the entry named `jsonparser`). */
export const JsonParserConfigSchema = Type.Object({
  /** `all_requests`: every stream; `per_request` (default): streams whose request says so. */
  usage: Type.Optional(Type.Union([Type.Literal('all_requests'), Type.Literal('per_request')])),
  /** Accepted for Bifrost's configs; state here lives with the request and needs no sweep. */
  cleanup_interval: Type.Optional(Type.Unknown()),
  max_age: Type.Optional(Type.Unknown()),
})

export type JsonParserConfig = Static<typeof JsonParserConfigSchema>

/** The request header that turns the parser on for one request when `usage` is `per_request`. */
export const JSON_PARSER_HEADER = 'x-bf-enable-streaming-json-parser'

/**
 * Makes every streamed piece of JSON parseable on its own, as Bifrost's jsonparser does: each
 * chunk's content (structured output) and each tool call's arguments become everything streamed so
 * far, completed (open strings, objects and arrays closed). Text that is not JSON is left alone.
 */
export function createJsonParser(config: JsonParserConfig): GatewayPlugin {
  const all = config.usage === 'all_requests'
  const state = new WeakMap<GatewayContext, Map<string, string>>()
  return {
    name: 'jsonparser',
    onStreamChunk(ctx, item) {
      if (ctx.requestType !== 'chat_completion_stream' && ctx.requestType !== 'responses_stream') return
      if (!all && ctx.headers[JSON_PARSER_HEADER] !== 'true') return
      let acc = state.get(ctx)
      if (!acc) state.set(ctx, (acc = new Map()))
      if (item.chunk) return completeChat(ctx, item, acc)
      if (item.event) return completeResponses(ctx, item, acc)
    },
  }
}

function completeChat(
  ctx: GatewayContext,
  item: StreamChunk,
  acc: Map<string, string>,
): StreamChunk | undefined {
  let changed = false
  const choices = item.chunk!.choices.map((choice) => {
    const delta = choice.delta
    if (!delta) return choice
    let content = delta.content
    if (typeof content === 'string' && content !== '') {
      const fixed = accumulate(acc, `c${choice.index}`, content)
      if (fixed !== undefined) content = fixed
    }
    const tool_calls = delta.tool_calls?.map((t) => {
      const args = t.function?.arguments
      if (typeof args !== 'string' || args === '') return t
      const fixed = accumulate(acc, `c${choice.index}t${t.index}`, args, true)
      return fixed === undefined ? t : { ...t, function: { ...t.function, arguments: fixed } }
    })
    if (content === delta.content && tool_calls?.every((t, i) => t === delta.tool_calls![i]) !== false)
      return choice
    changed = true
    return { ...choice, delta: { ...delta, content, ...(tool_calls && { tool_calls }) } }
  })
  if (!changed) return undefined
  ctx.facts.jsonParsed = true
  return { ...item, chunk: { ...item.chunk!, choices } }
}

function completeResponses(
  ctx: GatewayContext,
  item: StreamChunk,
  acc: Map<string, string>,
): StreamChunk | undefined {
  const event = item.event as { type?: string; delta?: unknown; item_id?: string; output_index?: number }
  if (event.type !== 'response.output_text.delta' && event.type !== 'response.function_call_arguments.delta')
    return
  if (typeof event.delta !== 'string' || event.delta === '') return
  const key = `${event.type}:${event.item_id ?? event.output_index ?? 0}`
  const fixed = accumulate(acc, key, event.delta, event.type === 'response.function_call_arguments.delta')
  if (fixed === undefined) return
  ctx.facts.jsonParsed = true
  return { ...item, event: { ...item.event!, delta: fixed } }
}

/** Everything streamed so far under `key`, completed into valid JSON; undefined when it is not JSON. */
function accumulate(
  acc: Map<string, string>,
  key: string,
  piece: string,
  alwaysJson = false,
): string | undefined {
  const text = (acc.get(key) ?? '') + piece
  acc.set(key, text)
  const trimmed = text.trim()
  if (!alwaysJson && trimmed[0] !== '{' && trimmed[0] !== '[') return undefined
  return completePartialJson(trimmed)
}

/**
 * Partial JSON made valid: open strings, arrays and objects closed in order; when that is not
 * enough (a dangling key, colon or comma), the longest valid prefix, closed the same way.
 */
export function completePartialJson(s: string): string {
  if (s === '') return '{}'
  if (isValid(s)) return s
  const closed = close(s)
  if (isValid(closed)) return closed
  // A dangling `"key"`, `"key":`, `,` or half a literal: cut back to the last complete value.
  for (let end = s.length - 1; end > 0; end--) {
    const c = s[end - 1]
    if (c !== ',' && c !== '{' && c !== '[' && c !== '"' && c !== '}' && c !== ']' && !/[\d el]/.test(c))
      continue
    const candidate = close(s.slice(0, end).replace(/,\s*$/, ''))
    if (isValid(candidate)) return candidate
  }
  return s
}

function close(s: string): string {
  const stack: string[] = []
  let inString = false
  let escaped = false
  for (const ch of s) {
    if (escaped) {
      escaped = false
      continue
    }
    if (ch === '\\') {
      escaped = inString
      continue
    }
    if (ch === '"') inString = !inString
    else if (inString) continue
    else if (ch === '{') stack.push('}')
    else if (ch === '[') stack.push(']')
    else if ((ch === '}' || ch === ']') && stack[stack.length - 1] === ch) stack.pop()
  }
  let out = s
  if (inString) out = (escaped ? out.slice(0, -1) : out) + '"'
  return out + stack.reverse().join('')
}

function isValid(s: string): boolean {
  try {
    JSON.parse(s)
    return true
  } catch {
    return false
  }
}
