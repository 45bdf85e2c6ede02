import { createRequire } from 'node:module'

/**
 * Prompt token counts at admission, sized for the model the request goes to: OpenAI's own
 * tokenizers (gpt-tokenizer) for OpenAI's model families, a calibrated character count that errs
 * high for everything else (Claude, Gemini, Llama ... whose tokenizers are not public or not here).
 */

export type OpenAIEncoding = 'o200k_base' | 'cl100k_base'

/** Text beyond this many characters per request is not tokenised but extrapolated (see PromptTokenCounter). */
export const TOKENIZE_CHARS_CAP = 8 * 1024
/** The sample's tokens per character vary by a few percent over a long text: the extrapolation adds this much. */
const EXTRAPOLATION_MARGIN = 1.05

const O200K_MODELS =
  /^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|gpt-realtime|gpt-audio|o1|o3|o4|codex|computer-use|omni-)/
const CL100K_MODELS = /^(gpt-4|gpt-3\.5|gpt-35|text-embedding-3|text-embedding-ada)/

/** OpenAI's encoding of a model, by its name (a `provider/` prefix is ignored); undefined for other families. */
export function openAIEncodingOf(model: string): OpenAIEncoding | undefined {
  const name = model.slice(model.lastIndexOf('/') + 1).toLowerCase()
  if (O200K_MODELS.test(name)) return 'o200k_base'
  if (CL100K_MODELS.test(name)) return 'cl100k_base'
  return undefined
}

type CountTokens = (text: string) => number

const require = createRequire(import.meta.url)
const loaded = new Map<OpenAIEncoding, CountTokens | null>()

/**
 * The encoding's token counter, loaded on first use (each holds a rank table of several MB, so a
 * gateway that never prices an OpenAI model never loads one); null when gpt-tokenizer is missing.
 */
function counterFor(encoding: OpenAIEncoding): CountTokens | null {
  let counter = loaded.get(encoding)
  if (counter === undefined) {
    try {
      const mod = require(`gpt-tokenizer/encoding/${encoding}`) as { countTokens: CountTokens }
      counter = (text) => mod.countTokens(text)
    } catch {
      counter = null
    }
    loaded.set(encoding, counter)
  }
  return counter
}

/**
 * Loads OpenAI's encodings in the background, one per turn of the event loop (about 0.3 s and
 * 0.15 s of parsing each), so that the first request with a budget does not pay for it. Called
 * when the governance configuration has a budget or a token limit; once is enough.
 */
export function preloadTokenizers(): void {
  const queue = (['o200k_base', 'cl100k_base'] as const).filter((e) => !loaded.has(e))
  const next = () => {
    const encoding = queue.shift()
    if (!encoding) return
    counterFor(encoding)
    setImmediate(next).unref()
  }
  if (queue.length > 0) setImmediate(next).unref()
}

/**
 * Calibrated tokens of text, erring high: 3.5 ASCII characters a token (English runs 4 or more in
 * every common tokenizer, code and identifiers about 3.5), 1.75 for other alphabets, 1 for CJK and
 * emoji. Sevenths of a token, so the sum stays an exact integer.
 */
export function calibratedTokens(text: string): number {
  return Math.ceil(calibratedSevenths(text) / 7)
}

function calibratedSevenths(text: string): number {
  let units = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    units += c < 0x80 ? 2 : c < 0x3000 ? 4 : c >= 0xd800 && c < 0xe000 ? 4 : 7
  }
  return units
}

/**
 * Adds up the prompt's texts for one model. With a tokenizer, the first TOKENIZE_CHARS_CAP
 * characters are tokenised exactly; the rest count at the higher of the sample's tokens per
 * character (plus 5%) and the calibrated count, so that a long prompt costs bounded work and is
 * not underestimated.
 */
export class PromptTokenCounter {
  private readonly count: CountTokens | null
  private sampledChars = 0
  private sampledTokens = 0
  private restChars = 0
  private restSevenths = 0

  constructor(model: string) {
    const encoding = openAIEncodingOf(model)
    this.count = encoding ? counterFor(encoding) : null
  }

  add(text: string): void {
    if (text.length === 0) return
    if (!this.count) {
      this.restChars += text.length
      this.restSevenths += calibratedSevenths(text)
      return
    }
    const room = TOKENIZE_CHARS_CAP - this.sampledChars
    if (room > 0) {
      const head = text.length <= room ? text : text.slice(0, room)
      this.sampledTokens += this.count(head)
      this.sampledChars += head.length
      if (head.length === text.length) return
      text = text.slice(room)
    }
    this.restChars += text.length
    this.restSevenths += calibratedSevenths(text)
  }

  total(): number {
    const calibrated = this.restSevenths / 7
    const extrapolated =
      this.sampledChars > 0
        ? (EXTRAPOLATION_MARGIN * this.restChars * this.sampledTokens) / this.sampledChars
        : 0
    return Math.ceil(this.sampledTokens + Math.max(calibrated, extrapolated))
  }
}
