import { apiError } from '../api'
import { keyHeaders } from '../session-key'

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

export interface ChatRequest {
  route: string
  model: string
  messages: ChatMessage[]
  stream: boolean
  temperature?: number
  max_tokens?: number
  virtualKey?: string
}

export interface ChatOutcome {
  text: string
  status: number
  /** The log entry's id: the gateway's `x-request-id`. */
  requestId?: string
  /** Until the first token (streamed) or the whole answer, in ms. */
  firstTokenMs: number
  totalMs: number
  tokens?: { prompt: number; completion: number; total: number }
}

interface Usage {
  prompt_tokens?: number
  completion_tokens?: number
  total_tokens?: number
}
interface Chunk {
  choices?: { delta?: { content?: string | null }; message?: { content?: string | null } }[]
  usage?: Usage | null
  error?: { message?: string }
}

const tokensOf = (u: Usage | null | undefined) =>
  u
    ? { prompt: u.prompt_tokens ?? 0, completion: u.completion_tokens ?? 0, total: u.total_tokens ?? 0 }
    : undefined

/**
 * Sends a chat request; a streamed answer's text is handed to `onText` as each chunk arrives.
 * Throws an ApiError (the gateway's message, in plain words) when the gateway refuses it.
 */
export async function sendChat(
  req: ChatRequest,
  onText: (text: string) => void,
  signal?: AbortSignal,
): Promise<ChatOutcome> {
  const start = performance.now()
  const body: Record<string, unknown> = { model: req.model, messages: req.messages }
  if (req.temperature !== undefined) body.temperature = req.temperature
  if (req.max_tokens !== undefined) body.max_tokens = req.max_tokens
  if (req.stream) Object.assign(body, { stream: true, stream_options: { include_usage: true } })
  const res = await fetch(req.route, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...keyHeaders(req.virtualKey) },
    body: JSON.stringify(body),
    credentials: 'same-origin',
    signal,
  })
  const requestId = res.headers.get('x-request-id') ?? undefined
  const streamed = (res.headers.get('content-type') ?? '').includes('text/event-stream')
  if (!res.ok || !streamed || !res.body) {
    const raw = await res.text()
    let parsed: unknown = raw
    try {
      parsed = raw ? JSON.parse(raw) : undefined
    } catch {
      // Not JSON: the text is the message.
    }
    if (!res.ok) throw apiError(parsed, res.status)
    const answer = parsed as Chunk
    const text = answer.choices?.[0]?.message?.content ?? ''
    onText(text)
    const ms = performance.now() - start
    return {
      text,
      status: res.status,
      requestId,
      firstTokenMs: ms,
      totalMs: ms,
      tokens: tokensOf(answer.usage),
    }
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  let text = ''
  let firstTokenMs: number | undefined
  let usage: Usage | undefined
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += value
    const events = buffer.split(/\r?\n\r?\n/)
    buffer = events.pop() ?? ''
    for (const event of events) {
      const data = event
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n')
      if (!data || data === '[DONE]') continue
      const chunk = JSON.parse(data) as Chunk
      if (chunk.error) throw apiError(chunk, 500)
      const piece = chunk.choices?.[0]?.delta?.content
      if (piece) {
        firstTokenMs ??= performance.now() - start
        text += piece
        onText(text)
      }
      if (chunk.usage) usage = chunk.usage
    }
  }
  const totalMs = performance.now() - start
  return {
    text,
    status: res.status,
    requestId,
    firstTokenMs: firstTokenMs ?? totalMs,
    totalMs,
    tokens: tokensOf(usage),
  }
}
