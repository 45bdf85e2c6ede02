/**
 * The public HTTP API, as the browser calls it: same origin, authenticated by the HttpOnly session
 * cookie alone (no token script can read).
 */

// Older versions kept the session token in localStorage, where any script could read it.
try {
  localStorage.removeItem('heimdall.token')
} catch {
  // Storage unavailable: nothing was kept there either.
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** The request member the server blamed (Bifrost's `error.param`), for a note beside that field. */
    readonly param?: string,
  ) {
    super(message)
  }
}

/** The blamed member of an API error body, when it names one. */
function paramOf(body: unknown): string | undefined {
  const error = (body as { error?: { param?: unknown } } | undefined)?.error
  return typeof error === 'object' && typeof error?.param === 'string' && error.param
    ? error.param
    : undefined
}

/** Schema wording (`expected integer to be greater or equal to 1`) in plain words. */
export function plainWords(message: string): string {
  return message
    .replace(/expected string length greater or equal to 1\b/i, 'must not be empty')
    .replace(/expected string length greater or equal to (\d+)/i, 'needs at least $1 characters')
    .replace(/expected integer\b/i, 'must be a whole number')
    .replace(/expected number\b/i, 'must be a number')
    .replace(/expected string$/i, 'must be text')
    .replace(/expected boolean\b/i, 'must be on or off')
    .replace(/ to be greater or equal to (\S+)/i, ' of at least $1')
    .replace(/ to be less or equal to (\S+)/i, ' of at most $1')
    .replace(/ to be greater than (\S+)/i, ' above $1')
}

/** Turns an API error body (Bifrost's `{error: {message}}` or `{message}`) into plain words. */
function messageOf(body: unknown, status: number): string {
  if (body && typeof body === 'object') {
    const b = body as { error?: { message?: string } | string; message?: string }
    if (typeof b.error === 'object' && b.error?.message) return plainWords(b.error.message)
    if (typeof b.error === 'string') return b.error
    if (b.message) return b.message
  }
  if (status === 401) return 'You are not signed in.'
  if (status === 404) return 'Not found.'
  return `The server answered ${status}.`
}

export async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const h: Record<string, string> = { ...headers }
  if (body !== undefined) h['content-type'] = 'application/json'
  const res = await fetch(path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  })
  const text = await res.text()
  let parsed: unknown = undefined
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {
    parsed = text
  }
  if (!res.ok) {
    if (res.status === 401 && !path.startsWith('/api/session') && !headers.authorization) {
      window.dispatchEvent(new Event('heimdall:unauthorized'))
    }
    throw new ApiError(messageOf(parsed, res.status), res.status, paramOf(parsed))
  }
  return parsed as T
}

export const get = <T = unknown>(path: string) => api<T>('GET', path)
export const post = <T = unknown>(path: string, body?: unknown) => api<T>('POST', path, body ?? {})
export const put = <T = unknown>(path: string, body?: unknown) => api<T>('PUT', path, body ?? {})
export const del = <T = unknown>(path: string) => api<T>('DELETE', path)

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** The one money format (see format.ts); kept here for pages that import it from the API module. */
export { formatMoney as money } from './format'

/** The error an API answer carries (its body already parsed), in plain words: for callers that read a response themselves. */
export function apiError(body: unknown, status: number): ApiError {
  return new ApiError(messageOf(body, status), status, paramOf(body))
}
