import type { ParsedProviderError } from '../http.js'

/** OpenAI's error body: `{ "error": { "message", "type", "param", "code" } }`. */
export function parseOpenAIError(json: unknown): ParsedProviderError {
  const err = (json as { error?: unknown } | null)?.error
  if (err && typeof err === 'object') {
    const e = err as Record<string, unknown>
    return {
      message: typeof e.message === 'string' ? e.message : undefined,
      type: typeof e.type === 'string' ? e.type : undefined,
      code: typeof e.code === 'string' || typeof e.code === 'number' ? e.code : undefined,
      param: typeof e.param === 'string' ? e.param : undefined,
    }
  }
  if (typeof err === 'string') return { message: err }
  const m = (json as { message?: unknown } | null)?.message
  return { message: typeof m === 'string' ? m : undefined }
}
