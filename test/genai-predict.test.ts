import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { fakePng, startFakeGemini } from './fakes/gemini.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Imagen's `:predict` on the GenAI drop-in, in Google's REST shape (the `@google/genai` SDK sends
 * generateImages only to Vertex AI, so the request is made as Google documents it).
 */
let gemini: FakeServer
let gw: RunningHeimdall

function predict(model: string, body: unknown): Promise<Response> {
  return fetch(`${gw.url}/genai/v1beta/models/${model}:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-goog-api-key': 'AIza-unused' },
    body: JSON.stringify(body),
  })
}

beforeAll(async () => {
  gemini = await startFakeGemini()
  gw = await startHeimdall({ providers: { gemini: fakeProvider(gemini.url) } })
})
afterAll(async () => {
  await gw?.close()
  await gemini?.close()
})
beforeEach(() => gemini.reset())

describe('POST /genai/v1beta/models/{model}:predict', () => {
  it('generates images with Imagen through the gateway, the count and aspect ratio kept', async () => {
    const res = await predict('imagen-4.0-generate-001', {
      instances: [{ prompt: 'a lighthouse at dawn' }],
      parameters: { sampleCount: 2, aspectRatio: '16:9' },
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { predictions: { bytesBase64Encoded: string; mimeType: string }[] }
    expect(body.predictions).toHaveLength(2)
    expect(Buffer.from(body.predictions[0].bytesBase64Encoded, 'base64')).toEqual(
      fakePng('a lighthouse at dawn 16:9 #0 by imagen-4.0-generate-001'),
    )
    expect(body.predictions[1].mimeType).toBe('image/png')
    const sent = gemini.requests.at(-1)
    expect(sent?.path).toBe('/v1beta/models/imagen-4.0-generate-001:predict')
    expect(sent?.body.parameters).toMatchObject({ sampleCount: 2, aspectRatio: '16:9' })
  })

  it('refuses an unknown aspect ratio or a missing prompt with a 400 in Google’s shape, before any provider call', async () => {
    for (const body of [
      { instances: [{ prompt: 'x' }], parameters: { aspectRatio: '2:1' } },
      { instances: [{}] },
      { parameters: {} },
    ]) {
      const res = await predict('imagen-4.0-generate-001', body)
      expect(res.status).toBe(400)
      const err = (await res.json()) as { error: { code: number; status: string; message: string } }
      expect(err.error.code).toBe(400)
      expect(err.error.status).toBe('INVALID_ARGUMENT')
    }
    expect(gemini.requests).toHaveLength(0)
  })
})
