import { randomBytes } from 'node:crypto'
import { countTokens as cl100k } from 'gpt-tokenizer/encoding/cl100k_base'
import { countTokens as o200k } from 'gpt-tokenizer/encoding/o200k_base'
import { describe, expect, it } from 'vitest'
import { calibratedTokens, openAIEncodingOf, TOKENIZE_CHARS_CAP } from './prompt-tokenizer.js'
import { estimateTokens } from './token-estimate.js'

const prose =
  'The quarterly report shows revenue growth in every region, led by the enterprise segment. ' +
  'Please summarise the main drivers, list the risks the finance team raised, and suggest next steps. '

/** Token-dense text: ids, hex and numbers, about 2 to 2.5 characters a token. */
function dense(chars: number): string {
  let out = ''
  while (out.length < chars) {
    const b = randomBytes(16).toString('hex')
    out += `id=${b.slice(0, 8)}-${b.slice(8, 12)} n=${parseInt(b.slice(12, 18), 16)} h=${b.slice(18)}\n`
  }
  return out.slice(0, chars)
}

/** What OpenAI reports as prompt_tokens of a chat: each message's content plus 3, plus 3. */
const openAIChatCount = (count: (s: string) => number, contents: string[]) =>
  contents.reduce((sum, c) => sum + count(c) + 3, 3)

describe('openAIEncodingOf', () => {
  it('knows the o200k and cl100k families, with or without a provider prefix', () => {
    for (const m of [
      'gpt-4o',
      'gpt-4o-mini',
      'openai/gpt-4.1-nano',
      'gpt-5',
      'o3-mini',
      'o1',
      'chatgpt-4o-latest',
    ]) {
      expect(openAIEncodingOf(m), m).toBe('o200k_base')
    }
    for (const m of [
      'gpt-4',
      'gpt-4-turbo',
      'gpt-3.5-turbo',
      'azure/gpt-35-turbo',
      'text-embedding-3-small',
    ]) {
      expect(openAIEncodingOf(m), m).toBe('cl100k_base')
    }
    for (const m of ['claude-sonnet-4', 'gemini-2.5-pro', 'llama-3.1-70b', 'mistral-large']) {
      expect(openAIEncodingOf(m), m).toBeUndefined()
    }
  })
})

describe('estimateTokens with a model', () => {
  it('counts an OpenAI chat prompt as OpenAI does, erring high by a few tokens at most', () => {
    const contents = ['You are terse.', prose.repeat(5), dense(3000)]
    const messages = contents.map((content, i) => ({ role: i === 0 ? 'system' : 'user', content }))
    for (const [model, count] of [
      ['gpt-4o', o200k],
      ['gpt-4-turbo', cl100k],
    ] as const) {
      const real = openAIChatCount(count, contents)
      const est = estimateTokens({ messages, max_tokens: 10 }, { model }).prompt
      expect(est, model).toBeGreaterThanOrEqual(real)
      // The role names and one more token per message than OpenAI adds.
      expect(est - real, model).toBeLessThanOrEqual(2 * messages.length)
    }
    // The character count without a model is far below for token-dense text.
    expect(estimateTokens({ messages }).prompt).toBeLessThan(0.8 * openAIChatCount(o200k, contents))
  })

  it('tokenises the first TOKENIZE_CHARS_CAP characters and extrapolates the rest, never below the real count', () => {
    for (const text of [dense(50 * 1024), prose.repeat(260)]) {
      const real = openAIChatCount(o200k, [text])
      const est = estimateTokens({ messages: [{ role: 'user', content: text }] }, { model: 'gpt-4o' }).prompt
      expect(text.length).toBeGreaterThan(4 * TOKENIZE_CHARS_CAP)
      expect(est).toBeGreaterThanOrEqual(real)
      // English beyond the sample counts at the calibrated 3.5 characters a token: high, not low.
      expect(est).toBeLessThan(1.5 * real)
    }
  })

  it('counts other models at 3.5 ASCII characters a token, above the old count of 4', () => {
    expect(calibratedTokens('a'.repeat(700))).toBe(200)
    expect(calibratedTokens('привет')).toBe(4)
    expect(calibratedTokens('你好世界')).toBe(4)
    const messages = [{ role: 'user', content: 'a'.repeat(700) }]
    const claude = estimateTokens({ messages }, { model: 'claude-sonnet-4' }).prompt
    expect(claude).toBeGreaterThan(estimateTokens({ messages }).prompt)
    // For English prose, above what OpenAI's tokenizer counts (other tokenizers are close to it).
    expect(calibratedTokens(prose.repeat(20))).toBeGreaterThan(o200k(prose.repeat(20)))
  })
})
