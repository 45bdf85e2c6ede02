import type { OpenAICompatibleSpec } from '../openai-compatible.js'

/**
 * An OpenAI-format provider gets the caller's body as sent, with the model renamed, Bifrost's own
 * fields removed, streamed usage asked for (so that every stream can be accounted), and parameters
 * the provider is known to reject taken out.
 */
export function toOpenAIBody(
  req: Record<string, unknown>,
  model: string,
  spec: OpenAICompatibleSpec,
  stream: boolean,
): string {
  const body: Record<string, unknown> = { ...req, model }
  delete body.fallbacks
  if (stream) {
    body.stream = true
    if (spec.streamUsage === 'stream_options') {
      const opts = req.stream_options
      body.stream_options = { ...(opts && typeof opts === 'object' ? opts : {}), include_usage: true }
    } else {
      delete body.stream_options
    }
  } else if (body.stream !== undefined) {
    delete body.stream
    delete body.stream_options
  }
  for (const p of spec.rejects) delete body[p]
  if (!spec.cacheControl) dropCacheControl(body)
  return JSON.stringify(body)
}

type Marked = Record<string, unknown> & { cache_control?: unknown }

const marked = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && (v as Marked).cache_control !== undefined

function unmarked<T>(v: T): T {
  if (!marked(v)) return v
  const { cache_control: _, ...rest } = v as Marked
  return rest as T
}

/** Whether a message, one of its content parts or one of its tool calls has a cache breakpoint. */
function carriesCacheControl(m: Marked): boolean {
  return (
    marked(m) ||
    (Array.isArray(m.content) && m.content.some(marked)) ||
    (Array.isArray(m.tool_calls) && m.tool_calls.some(marked))
  )
}

/**
 * Anthropic's cache breakpoints (top-level, on messages, content parts, tool calls and tools) removed, as
 * Bifrost does for OpenAI-format providers: they mean nothing there and some reject them. The
 * caller's objects are copied, never changed.
 */
function dropCacheControl(body: Record<string, unknown>): void {
  delete body.cache_control
  const { messages, tools } = body
  // Most requests carry no breakpoint: their messages array is kept, not copied.
  if (Array.isArray(messages) && messages.some(carriesCacheControl)) {
    body.messages = messages.map((m: Marked) => {
      const content = Array.isArray(m.content) && m.content.some(marked) ? m.content.map(unmarked) : m.content
      const calls =
        Array.isArray(m.tool_calls) && m.tool_calls.some(marked) ? m.tool_calls.map(unmarked) : m.tool_calls
      if (content === m.content && calls === m.tool_calls && !marked(m)) return m
      const out = unmarked({ ...m })
      if (content !== undefined) out.content = content
      if (calls !== undefined) out.tool_calls = calls
      return out
    })
  }
  if (Array.isArray(tools) && tools.some(marked)) body.tools = tools.map(unmarked)
}
