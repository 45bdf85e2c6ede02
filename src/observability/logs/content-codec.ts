import { deflateRawSync, inflateRawSync } from 'node:zlib'

/**
 * How the SQLite log store keeps its long texts: raw deflate with a preset dictionary of the JSON
 * that request logs are made of, so that even a few hundred bytes of a chat request or answer
 * shrink to a quarter. A packed value is a BLOB (a plain one stays TEXT, as rows of older
 * versions do): one version byte, then the deflated text. The dictionary of a version must never
 * change, or its rows could no longer be read; a new dictionary takes a new version byte.
 */
const VERSION = 1

/**
 * Columns packed when long enough: the bodies, the attempt trail and the search text. Not the
 * error: the status-code filter matches its start in SQL.
 */
export const PACKED_COLUMNS = ['attempts', 'input', 'output', 'content_summary'] as const

/** Shorter texts are stored as they are: deflating them saves a few bytes for a zlib call. */
const MIN_PACKED_CHARS = 64

// Strings that OpenAI-shaped requests, answers, stream summaries, errors and attempt trails repeat.
// zlib looks back into the dictionary's end first, so the most frequent strings come last.
const DICTIONARY = Buffer.from(
  '{"is_bifrost_error":false,"status_code":400,"error":{"type":"invalid_request_error","code":null,"message":"' +
    'rate_limit_exceeded","param":null},"extra_fields":{"provider":"anthropic","model_requested":"claude-sonnet-4-5' +
    '"tools":[{"type":"function","function":{"name":"","description":"","parameters":{"type":"object","properties":' +
    '{"tool_calls":[{"id":"call_","type":"function","function":{"name":"","arguments":"{\\"' +
    '"response_format":{"type":"json_object"},"temperature":0.7,"max_tokens":1024,"top_p":1,"stream_options":{"include_usage":true}' +
    '{"role":"assistant","content":"","reasoning":"' +
    '{"id":"chatcmpl-","object":"chat.completion","created":17,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,' +
    '"message":{"role":"assistant","content":"","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],' +
    '"usage":{"prompt_tokens":,"completion_tokens":,"total_tokens":,"prompt_tokens_details":{"cached_tokens":0,' +
    '"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,' +
    '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_"}' +
    '{"model":"openai/gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},' +
    '{"role":"user","content":"' +
    '"}],"stream":true}' +
    '[{"provider":"openai","model":"gpt-4o-mini","key_id":"","fallback_index":0,"latency":',
)

/** A long text packed, a short one as it is. */
export function packText(text: string): string | Buffer {
  if (text.length < MIN_PACKED_CHARS) return text
  const deflated = deflateRawSync(text, { level: 6, dictionary: DICTIONARY })
  const packed = Buffer.allocUnsafe(deflated.length + 1)
  packed[0] = VERSION
  deflated.copy(packed, 1)
  return packed
}

/** A stored text as it was written: packed ones inflated, plain ones (and nulls) as they are. */
export function unpackText(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'string') return value
  if (!(value instanceof Uint8Array) || value[0] !== VERSION) return null
  const deflated = Buffer.from(value.buffer, value.byteOffset + 1, value.byteLength - 1)
  return inflateRawSync(deflated, { dictionary: DICTIONARY }).toString('utf8')
}

/** A row's values (in column order) with the texts at the given places packed. */
export function packValues(values: unknown[], at: readonly number[]): unknown[] {
  for (const i of at) if (typeof values[i] === 'string') values[i] = packText(values[i])
  return values
}
