/**
 * An estimate of a request's input tokens (about four characters a token, over every text, schema
 * and argument in it). Used by count_tokens, which no provider is asked for yet.
 */
export function estimatePromptTokens(body: Record<string, unknown>): number {
  const { model: _model, max_tokens: _max, stream: _stream, ...rest } = body
  let chars = 0
  const walk = (v: unknown): void => {
    if (typeof v === 'string') chars += v.length
    else if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (k !== 'type') walk(x)
  }
  walk(rest)
  return Math.max(1, Math.ceil(chars / 4))
}
