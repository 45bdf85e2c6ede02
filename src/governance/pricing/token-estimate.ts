import type { Usage } from '../../core/schemas/index.js'
import { PromptTokenCounter } from './prompt-tokenizer.js'

/**
 * Token counts for admission reservations and for streams that ended without usage. Given the
 * model, prompts are counted as its tokenizer would (see prompt-tokenizer.ts). Without it, about 4
 * characters a token for ASCII text; 2 for other alphabets (Cyrillic, Greek, Arabic...); 1 for CJK
 * and emoji, which tokenizers split much finer than English.
 */

/** Completion tokens assumed when a request sets no maximum. */
export const DEFAULT_COMPLETION_TOKENS = 1024
/** An image, audio clip or file counts this much, whatever its size in base64. */
export const ATTACHMENT_TOKENS = 1024
/** Role markers and separators around each message or input item. */
const ITEM_OVERHEAD = 4
/** The priming of the assistant's reply. */
const REPLY_OVERHEAD = 3

const ATTACHMENT_TYPES: ReadonlySet<string> = new Set([
  'image_url',
  'input_image',
  'image',
  'input_audio',
  'audio',
  'file',
  'input_file',
  'document',
])

/** The fields of chat, responses, completions and embeddings requests that estimates read. */
export interface TokenEstimateRequest {
  messages?: unknown
  input?: unknown
  prompt?: unknown
  instructions?: unknown
  system?: unknown
  tools?: unknown
  functions?: unknown
  response_format?: unknown
  max_tokens?: number | null
  max_completion_tokens?: number | null
  max_output_tokens?: number | null
  n?: number | null
}

export interface TokenEstimate {
  prompt: number
  completion: number
}

export interface TokenEstimateOptions {
  /** Completion tokens when the request sets no maximum (0 for embeddings). */
  defaultCompletion?: number
  /** The model the request goes to: its tokenizer counts the prompt (OpenAI's families), else a calibrated count that errs high. */
  model?: string
}

/**
 * Prompt: every text of the messages / input / prompt / instructions, plus tool and response
 * schemas as JSON, plus a small overhead per message. Completion: `max_completion_tokens`, else
 * `max_tokens`, else `max_output_tokens`, else DEFAULT_COMPLETION_TOKENS, times the number of
 * choices (`n`) and of prompts in a batched completion request.
 */
export function estimateTokens(
  request: TokenEstimateRequest,
  opts: TokenEstimateOptions = {},
): TokenEstimate {
  const counter = opts.model !== undefined ? new PromptTokenCounter(opts.model) : undefined
  let prompt = 0
  let heuristicTokens = 0
  const addText = counter
    ? (text: string) => counter.add(text)
    : (text: string) => {
        heuristicTokens += countTextTokens(text)
      }
  for (const field of [request.messages, request.input, request.prompt]) {
    if (field === undefined || field === null) continue
    prompt += countContent(field, addText)
    if (Array.isArray(field) && field.some(isObject)) prompt += field.length * ITEM_OVERHEAD + REPLY_OVERHEAD
  }
  prompt += countContent(request.instructions, addText) + countContent(request.system, addText)
  for (const schema of [request.tools, request.functions, request.response_format]) {
    if (schema !== undefined && schema !== null) addText(JSON.stringify(schema))
  }
  prompt += counter ? counter.total() : heuristicTokens
  const max = [request.max_completion_tokens, request.max_tokens, request.max_output_tokens].find(isCount)
  const perChoice = max ?? opts.defaultCompletion ?? DEFAULT_COMPLETION_TOKENS
  const choices = isCount(request.n) && request.n > 0 ? request.n : 1
  return { prompt: Math.ceil(prompt), completion: perChoice * choices * batchSize(request.prompt) }
}

/** Usage for a response whose provider reported none; the caller marks the cost as estimated. */
export function estimateUsageFromText(promptText: string, completionText: string): Usage {
  const prompt = countTextTokens(promptText)
  const completion = countTextTokens(completionText)
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
}

export function countTextTokens(text: string): number {
  let units = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    // Quarter tokens, so the sum stays an exact integer.
    units += c < 0x80 ? 1 : c < 0x3000 ? 2 : c >= 0xd800 && c < 0xe000 ? 2 : 4
  }
  return Math.ceil(units / 4)
}

/**
 * Strings go to `addText`; numbers count one token each (token-id prompts), attachments a flat
 * amount: the sum of those is returned.
 */
function countContent(v: unknown, addText: (text: string) => void): number {
  if (typeof v === 'string') {
    if (v.startsWith('data:')) return ATTACHMENT_TOKENS
    addText(v)
    return 0
  }
  if (typeof v === 'number') return 1
  if (Array.isArray(v)) {
    let sum = 0
    for (const item of v) sum += countContent(item, addText)
    return sum
  }
  if (!isObject(v)) return 0
  if (typeof v.type === 'string' && ATTACHMENT_TYPES.has(v.type)) return ATTACHMENT_TOKENS
  let sum = 0
  for (const value of Object.values(v)) sum += countContent(value, addText)
  return sum
}

/** A completion request may batch several prompts; each gets its own completion. */
function batchSize(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length < 2) return 1
  return prompt.every((p) => typeof p === 'string' || Array.isArray(p)) ? prompt.length : 1
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
