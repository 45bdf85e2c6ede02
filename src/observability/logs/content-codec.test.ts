import { deflateRawSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import {
  addDictionarySource,
  BUILT_IN_DICTIONARY,
  packText,
  PACKING_LEVEL,
  trainDictionary,
  unpackText,
} from './content-codec.js'

describe('packed log texts', () => {
  const texts = [
    '{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Say hello to user 7"}]}',
    '{"id":"chatcmpl-1","object":"chat.completion","choices":[{"message":{"role":"assistant","content":"Grüße, 世界 👋"}}]}',
    'x'.repeat(64),
    // Longer than the reused deflater takes: deflateRawSync packs it.
    'a long answer with some repetition '.repeat(2000),
    '[{"provider":"openai","model":"gpt-4o-mini","key_id":"k","fallback_index":0,"latency":1}]',
  ]

  it('reads back every text packed one after another, with the built-in and a trained dictionary', () => {
    const trained = trainDictionary(texts.slice(0, 2))
    const forget = addDictionarySource((id) => (id === trained.id ? trained.bytes : undefined))
    for (const dictionary of [BUILT_IN_DICTIONARY, trained, BUILT_IN_DICTIONARY]) {
      for (const text of texts) {
        const packed = packText(text, dictionary)
        expect(Buffer.isBuffer(packed)).toBe(true)
        const bytes = packed as Buffer
        expect(bytes[0]).toBe(dictionary.id === 0 ? 1 : 2)
        const header = dictionary.id === 0 ? 1 : 5
        // The same bytes deflateRawSync would have written: rows of either build read alike.
        expect(
          bytes
            .subarray(header)
            .equals(deflateRawSync(text, { level: PACKING_LEVEL, dictionary: dictionary.bytes })),
        ).toBe(true)
        expect(unpackText(bytes)).toBe(text)
      }
    }
    expect(packText('short', BUILT_IN_DICTIONARY)).toBe('short')
    forget()
  })
})
