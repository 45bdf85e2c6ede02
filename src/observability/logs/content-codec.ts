import { randomBytes } from 'node:crypto'
import { constants, DeflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib'

/**
 * How the SQLite log store keeps its long texts: raw deflate with a preset dictionary, so that
 * even a few hundred bytes of a chat request or answer shrink to a fraction. A packed value is a
 * BLOB (a plain one stays TEXT, as rows of older versions do) that starts with its format: 1, the
 * built-in dictionary of the JSON request logs are made of; 2, then a 4-byte id, a dictionary
 * trained on the database's own first rows (its model names, system prompts, tool schemas), kept
 * in its `log_dictionaries` table. A dictionary never changes once a row was packed with it.
 */
const BUILT_IN = 1
const TRAINED = 2

/**
 * Columns an earlier version packed each on its own when long enough (rows written since are
 * packed whole, see row-packing.ts). Not the error: the status-code filter matches its start in SQL.
 */
export const PACKED_COLUMNS = ['attempts', 'input', 'output', 'content_summary'] as const

/**
 * zlib's level: 1-3 find matches greedily, 4 and up also try lazier ones. A row of the benchmark
 * packs to the same bytes at 2 as at 6 in about three quarters of the time; 4 KiB of prose comes
 * out 2 % larger.
 */
export const PACKING_LEVEL = 2

/** Shorter texts are stored as they are: deflating them saves a few bytes for a zlib call. */
const MIN_PACKED_CHARS = 64

// Strings that OpenAI-shaped requests, answers, stream summaries, errors and attempt trails repeat
// (field names and fixed values, no model names or texts of any one deployment). zlib finds the
// dictionary's end cheapest, so the most frequent strings come last.
const BASE_DICTIONARY = Buffer.from(
  '{"is_bifrost_error":false,"status_code":400,"error":{"type":"invalid_request_error","code":null,"message":"' +
    'rate_limit_exceeded","param":null},"extra_fields":{"provider":"anthropic","model_requested":"' +
    '"tools":[{"type":"function","function":{"name":"","description":"","parameters":{"type":"object","properties":' +
    '{"tool_calls":[{"id":"call_","type":"function","function":{"name":"","arguments":"{\\"' +
    '"response_format":{"type":"json_object"},"temperature":0.7,"max_tokens":1024,"top_p":1,"stream_options":{"include_usage":true}' +
    '{"role":"assistant","content":"","reasoning":"' +
    '{"id":"chatcmpl-","object":"chat.completion","created":17,"model":"","choices":[{"index":0,' +
    '"message":{"role":"assistant","content":"","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],' +
    '"usage":{"prompt_tokens":,"completion_tokens":,"total_tokens":,"prompt_tokens_details":{"cached_tokens":0,' +
    '"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,' +
    '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_"}' +
    '{"model":"openai/","messages":[{"role":"system","content":""},' +
    '{"role":"user","content":"' +
    '"}],"stream":true}' +
    '[{"provider":"openai","model":"","key_id":"","fallback_index":0,"latency":',
)

/** A dictionary texts are packed with: the built-in one (id 0) or one trained on a database's rows. */
export interface PackingDictionary {
  id: number
  bytes: Buffer
}

export const BUILT_IN_DICTIONARY: PackingDictionary = { id: 0, bytes: BASE_DICTIONARY }

/** Where a trained dictionary is kept, in the database whose rows it packs. */
export const DICTIONARY_TABLE_SQL =
  'create table if not exists log_dictionaries (id integer primary key, created_at integer not null, dictionary blob not null)'

/**
 * Most characters of samples a trained dictionary adds to the base. Every text packed hashes the
 * whole dictionary again (zlib sets it after each reset): about 5 µs of the writer thread per log
 * entry (three texts) for each KiB. 4 KiB cost 58 µs per entry where 2 KiB cost 45 (bench/log-cpu.ts),
 * the benchmark's rows packing to the same size.
 */
const TRAINED_SAMPLE_CHARS = 2048
const SAMPLE_CHARS = 1024

/** A dictionary of the base and, after it (nearest, so cheapest to refer to), samples of a database's texts. */
export function trainDictionary(samples: readonly string[]): PackingDictionary {
  const parts: string[] = []
  let size = 0
  for (const sample of samples) {
    const part = sample.slice(0, SAMPLE_CHARS)
    if (size + part.length > TRAINED_SAMPLE_CHARS) break
    parts.push(part)
    size += part.length
  }
  const id = randomBytes(4).readUInt32LE(0) || 1
  return { id, bytes: Buffer.concat([BASE_DICTIONARY, Buffer.from(parts.join(''), 'utf8')]) }
}

/** A long text packed, a short one as it is. */
export function packText(text: string, dictionary = BUILT_IN_DICTIONARY): string | Buffer {
  if (text.length < MIN_PACKED_CHARS) return text
  const header = dictionary.id === 0 ? 1 : 5
  const deflated = deflater(dictionary)?.(text, header)
  const packed =
    deflated ?? withRoom(deflateRawSync(text, { level: PACKING_LEVEL, dictionary: dictionary.bytes }), header)
  packed[0] = dictionary.id === 0 ? BUILT_IN : TRAINED
  if (header === 5) packed.writeUInt32LE(dictionary.id, 1)
  return packed
}

function withRoom(deflated: Buffer, header: number): Buffer {
  const packed = Buffer.allocUnsafe(deflated.length + header)
  deflated.copy(packed, header)
  return packed
}

/** Texts longer than this (bytes of UTF-8, at most 3 a character) go through deflateRawSync. */
const REUSED_MAX_CHARS = 16 * 1024
/** Room for the deflated text: deflate adds at most 5 bytes per 16 KiB block stored. */
const scratch = { input: Buffer.allocUnsafe(3 * REUSED_MAX_CHARS), output: Buffer.allocUnsafe(64 * 1024) }

interface ZlibHandle {
  writeSync(
    flush: number,
    input: Buffer,
    inOff: number,
    inLen: number,
    out: Buffer,
    outOff: number,
    outLen: number,
  ): void
  reset(): void
}

/** The deflater of the dictionary used last (one at a time: a database packs with its latest). */
let reused: { id: number; bytes: Buffer; pack: Pack | undefined; close(): void } | undefined

/** A text deflated into a new buffer after `header` bytes; undefined when it does not fit. */
type Pack = (text: string, header: number) => Buffer | undefined

/**
 * deflateRawSync builds a zlib stream, allocates zlib's state and hashes the dictionary for every
 * text: for texts of a few hundred bytes that is most of the cost, three times a row. One zlib
 * handle per dictionary, reset after each text (zlib's deflateReset, and the dictionary set
 * again), packs the same bytes in less than half the CPU. It is Node's handle under the public
 * stream; where it is not there (another runtime), texts go through deflateRawSync.
 */
function deflater(dictionary: PackingDictionary): Pack | undefined {
  if (reused?.id === dictionary.id && reused.bytes === dictionary.bytes) return reused.pack
  const stream = new DeflateRaw({ level: PACKING_LEVEL, dictionary: dictionary.bytes }) as unknown as {
    _handle?: ZlibHandle
    _writeState?: Uint32Array
    close(): void
    on(event: 'error', listener: (err: Error) => void): void
  }
  let failed: Error | undefined
  stream.on('error', (err) => (failed = err))
  const handle = stream._handle
  const state = stream._writeState
  let pack: Pack | undefined
  if (handle && typeof handle.writeSync === 'function' && typeof handle.reset === 'function' && state)
    pack = (text, header) => {
      if (text.length > REUSED_MAX_CHARS || failed) return undefined
      const length = scratch.input.write(text, 'utf8')
      const { output } = scratch
      handle.writeSync(constants.Z_FINISH, scratch.input, 0, length, output, 0, output.length)
      const left = state[0]
      handle.reset()
      if (failed || left === 0) return undefined
      const deflated = output.subarray(0, output.length - left)
      return withRoom(deflated, header)
    }
  else stream.close()
  reused?.close()
  reused = { id: dictionary.id, bytes: dictionary.bytes, pack, close: () => stream.close() }
  return pack
}

/** Trained dictionaries seen, by id (random 32-bit ids: one map serves every open database). */
const trained = new Map<number, Buffer>()
/** Where a dictionary not seen yet is looked up: each open log database. */
const sources = new Set<(id: number) => Buffer | undefined>()

/** Lets unpackText find the trained dictionaries of a database; returns the undo. */
export function addDictionarySource(source: (id: number) => Buffer | undefined): () => void {
  sources.add(source)
  return () => sources.delete(source)
}

function trainedDictionary(id: number): Buffer | undefined {
  let bytes = trained.get(id)
  if (bytes) return bytes
  for (const source of sources) if ((bytes = source(id))) break
  if (bytes) trained.set(id, bytes)
  return bytes
}

/** A stored text as it was written: packed ones inflated, plain ones (and nulls) as they are. */
export function unpackText(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'string') return value
  if (!(value instanceof Uint8Array) || value.byteLength < 2) return null
  const packed = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  let dictionary: Buffer | undefined = BASE_DICTIONARY
  let header = 1
  if (packed[0] === TRAINED) {
    dictionary = trainedDictionary(packed.readUInt32LE(1))
    header = 5
  } else if (packed[0] !== BUILT_IN) return null
  if (!dictionary) return null
  return inflateRawSync(packed.subarray(header), { dictionary }).toString('utf8')
}
