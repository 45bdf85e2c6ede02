import { describe, expect, it } from 'vitest'
import { geminiError, parseGeminiError } from './errors.js'

const body = (code: number, status: string, message: string, details?: unknown[]) =>
  JSON.stringify({ error: { code, message, status, ...(details && { details }) } })
const jsonHeaders = { 'content-type': 'application/json' }

describe('geminiError', () => {
  it('keeps Google status as the type and the ErrorInfo reason as the code', () => {
    expect(
      parseGeminiError(
        JSON.parse(
          body(400, 'INVALID_ARGUMENT', 'bad', [
            { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' },
          ]),
        ),
      ),
    ).toMatchObject({
      message: 'bad',
      type: 'INVALID_ARGUMENT',
      code: 'API_KEY_INVALID',
      reason: 'API_KEY_INVALID',
    })
  })

  it('makes an invalid key a 400 that is not retried and marks the key dead', () => {
    const err = geminiError(
      'gemini',
      400,
      body(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
        { reason: 'API_KEY_INVALID' },
      ]),
      jsonHeaders,
    )
    expect(err).toMatchObject({
      status: 400,
      retryable: false,
      keyDead: true,
      isBifrostError: false,
      upstreamCode: 'API_KEY_INVALID',
    })
    expect(err.message).toContain('API key not valid')
  })

  it('retries RESOURCE_EXHAUSTED and UNAVAILABLE', () => {
    expect(geminiError('gemini', 429, body(429, 'RESOURCE_EXHAUSTED', 'quota'), jsonHeaders).retryable).toBe(
      true,
    )
    expect(geminiError('gemini', 503, body(503, 'UNAVAILABLE', 'overloaded'), jsonHeaders).retryable).toBe(
      true,
    )
    expect(geminiError('gemini', 400, body(400, 'INVALID_ARGUMENT', 'no'), jsonHeaders).retryable).toBe(false)
  })

  it('reads when to come back from Retry-After, else from RetryInfo', () => {
    const quota = body(429, 'RESOURCE_EXHAUSTED', 'quota', [
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '37s' },
    ])
    expect(geminiError('gemini', 429, quota, jsonHeaders).retryAfterMs).toBe(37_000)
    expect(geminiError('gemini', 429, quota, { ...jsonHeaders, 'retry-after': '2' }).retryAfterMs).toBe(2_000)
  })

  it('does not show an HTML error page', () => {
    const err = geminiError('gemini', 502, '<html><body>Bad Gateway</body></html>', {
      'content-type': 'text/html',
    })
    expect(err.code).toBe('upstream_bad_response')
    expect(err.message).not.toContain('<html>')
  })
})
