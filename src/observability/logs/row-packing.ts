import { packText, unpackText, type PackingDictionary } from './content-codec.js'

/**
 * How a SQLite log row keeps its texts since one zlib call per row replaced one per text: the
 * request, the answer and the attempt trail are joined into one text, packed into
 * `content_packed` (their own columns stay null), and the words of the answer a content search
 * looks for are kept apart, plain, in `answer_text`, beside the plain `content_summary` (the
 * prompts and the error), so that a search reads them without inflating a row. Rows of earlier
 * versions (each text packed on its own, or plain) are read as they are.
 */

/** The texts joined into `content_packed`, in this order. */
export const BUNDLED_COLUMNS = ['input', 'output', 'attempts'] as const

/** Columns of SQLite's log table only (PostgreSQL keeps each text in its own column). */
export const SQLITE_ONLY_COLUMNS = [
  ['content_packed', 'blob'],
  ['answer_text', 'text'],
] as const

/** What a stored row holds beside a LogRow's columns (SQLite). */
export interface PackedColumns {
  content_packed?: Buffer | string | null
  answer_text?: string | null
}

/** Where, among a row's values, the bundled texts, the answer and the two SQLite-only columns are. */
export interface RowPlaces {
  bundled: number[]
  output: number
  packed: number
  answer: number
}

/** Most characters of an answer kept for search, as for the summary of the prompts. */
const ANSWER_TEXT_MAX_CHARS = 10_000

/**
 * `input.length,output.length,attempts.length\n` then the texts (-1 for a null one): lengths in
 * UTF-16 units, so that the joined text splits back without scanning it.
 */
export function bundleTexts(texts: readonly unknown[]): string | null {
  let head = ''
  let body = ''
  let any = false
  for (const text of texts) {
    const s = typeof text === 'string' ? text : undefined
    head += (head === '' ? '' : ',') + (s === undefined ? -1 : s.length)
    if (s !== undefined) {
      body += s
      any = true
    }
  }
  return any ? `${head}\n${body}` : null
}

export function unbundleTexts(bundle: string): (string | null)[] {
  const newline = bundle.indexOf('\n')
  let at = newline + 1
  return bundle
    .slice(0, newline)
    .split(',')
    .map((n) => {
      const length = Number(n)
      if (length < 0) return null
      const text = bundle.slice(at, at + length)
      at += length
      return text
    })
}

/**
 * A row's values (column order) turned into what the SQLite table stores: the bundled texts
 * joined (not packed yet: a dictionary may first be trained on them) and the answer's words.
 */
export function bundleRow(values: unknown[], places: RowPlaces): unknown[] {
  const output = values[places.output]
  values[places.answer] = typeof output === 'string' ? answerText(output) : null
  values[places.packed] = bundleTexts(places.bundled.map((i) => values[i]))
  for (const i of places.bundled) values[i] = null
  return values
}

/** The joined texts of a bundled row packed. */
export function packBundle(values: unknown[], places: RowPlaces, dictionary?: PackingDictionary): unknown[] {
  const bundle = values[places.packed]
  if (typeof bundle === 'string') values[places.packed] = packText(bundle, dictionary)
  return values
}

/** A stored row's texts back in their columns; the SQLite-only columns removed. */
export function unpackRow<T extends PackedColumns>(row: T): T {
  if (row.content_packed !== undefined && row.content_packed !== null) {
    const bundle = unpackText(row.content_packed)
    const texts = bundle === null ? [] : unbundleTexts(bundle)
    const columns = row as Record<string, unknown>
    BUNDLED_COLUMNS.forEach((column, i) => (columns[column] = texts[i] ?? null))
  }
  delete row.content_packed
  delete row.answer_text
  return row
}

/** The SQL function (registered on each connection that writes) that content retention calls. */
export const ATTEMPTS_ONLY_FUNCTION = 'heimdall_attempts_only'

/**
 * A packed value with only its attempt trail left: content retention drops an entry's bodies, not
 * its attempts. Repacked with the built-in dictionary (a trail is short).
 */
export function keepAttemptsOnly(packed: unknown): string | Buffer | null {
  const bundle = unpackText(packed)
  if (bundle === null) return null
  const texts = unbundleTexts(bundle)
  const kept = bundleTexts(BUNDLED_COLUMNS.map((column, i) => (column === 'attempts' ? texts[i] : null)))
  return kept === null ? null : packText(kept)
}

/**
 * A string value of a key whose values are an answer's words (message text, reasoning, tool
 * calls), found in JSON text without parsing it: in valid JSON a quote inside a string is escaped,
 * so `"content":"` only occurs where a key is.
 */
const WORD_VALUE =
  /"(?:content|text|refusal|reasoning|reasoning_content|thinking|arguments|name|transcript|summary)":\s*"((?:[^"\\]|\\.)*)"/g

/**
 * The words of a stored answer (JSON as the provider sent it, or a streamed message), for content
 * search: the strings of WORD_VALUE's keys, at any depth. A JSON string (an answer cut at the
 * cap) is its text; text that is not JSON is kept as it is.
 */
export function answerText(output: string): string {
  const first = output.charCodeAt(0)
  if (first === 34 /* " */) return decoded(output.slice(1, -1)).slice(0, ANSWER_TEXT_MAX_CHARS)
  if (first !== 123 /* { */ && first !== 91 /* [ */) return output.slice(0, ANSWER_TEXT_MAX_CHARS)
  let words = ''
  for (const m of output.matchAll(WORD_VALUE)) {
    if (m[1] === '') continue
    words += (words === '' ? '' : ' ') + decoded(m[1])
    if (words.length >= ANSWER_TEXT_MAX_CHARS) break
  }
  return words.slice(0, ANSWER_TEXT_MAX_CHARS)
}

/** A JSON string's contents unescaped. */
function decoded(raw: string): string {
  if (!raw.includes('\\')) return raw
  try {
    return JSON.parse(`"${raw}"`) as string
  } catch {
    return raw
  }
}
