import { describe, expect, it } from 'vitest'
import type { EmbeddingRequest } from '../../core/schemas/index.js'
import { fromGeminiEmbedResponse, toGeminiEmbedCall } from './embeddings.js'

const req = (extra: Partial<EmbeddingRequest> & Record<string, unknown>): EmbeddingRequest =>
  ({ model: 'gemini/gemini-embedding-001', input: 'hello', ...extra }) as EmbeddingRequest

describe('Gemini embeddings', () => {
  it('embeds one string with embedContent and honours dimensions', () => {
    expect(
      toGeminiEmbedCall(req({ dimensions: 256, taskType: 'RETRIEVAL_QUERY' }), 'models/gemini-embedding-001'),
    ).toEqual({
      method: 'embedContent',
      body: {
        content: { parts: [{ text: 'hello' }] },
        outputDimensionality: 256,
        taskType: 'RETRIEVAL_QUERY',
      },
      inputs: ['hello'],
    })
  })

  it('embeds a list with batchEmbedContents, naming the model in every request', () => {
    const call = toGeminiEmbedCall(req({ input: ['a', 'b'] }), 'models/gemini-embedding-001')
    expect(call.method).toBe('batchEmbedContents')
    expect(call.body).toEqual({
      requests: [
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a' }] } },
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'b' }] } },
      ],
    })
  })

  it('rejects token-id input, which Gemini cannot embed', () => {
    expect(() => toGeminiEmbedCall(req({ input: [1, 2, 3] }), 'models/m')).toThrow(/text only/)
  })

  it('returns OpenAI embeddings with estimated usage, as base64 floats when asked', () => {
    const r = req({ input: ['abcdefgh', 'xy'], encoding_format: 'base64' })
    const call = toGeminiEmbedCall(r, 'models/m')
    const res = fromGeminiEmbedResponse(
      { embeddings: [{ values: [0.5, -1] }, { values: [0.25, 2] }] },
      call,
      r,
      'm',
      'gemini',
    )
    expect(res.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 })
    const bytes = Buffer.from(res.data[0].embedding as string, 'base64')
    expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4))).toEqual([0.5, -1])
    expect(res.data.map((d) => d.index)).toEqual([0, 1])
  })

  it('treats a count of vectors that does not match the inputs as a bad response', () => {
    const r = req({ input: ['a', 'b'] })
    expect(() =>
      fromGeminiEmbedResponse(
        { embeddings: [{ values: [1] }] },
        toGeminiEmbedCall(r, 'models/m'),
        r,
        'm',
        'gemini',
      ),
    ).toThrow(/1 embeddings for 2 inputs/)
  })
})
