import Anthropic from '@anthropic-ai/sdk'
import OpenAI, { AzureOpenAI, toFile } from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeOpenAIWithMedia } from './fakes/azure.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * The framework routes (`/litellm`, `/langchain`, `/pydanticai`) as Bifrost has them: each serves
 * the OpenAI API (with Azure's deployment paths) and the Anthropic and GenAI APIs under its prefix,
 * with the same handlers as the drop-in routes.
 */
const FRAMEWORKS = ['/litellm', '/langchain', '/pydanticai']

describe('framework routes', () => {
  let openai: { server: FakeServer; close(): Promise<void> }
  let anthropic: FakeServer
  let gw: RunningHeimdall

  beforeAll(async () => {
    openai = await startFakeOpenAIWithMedia()
    anthropic = await startFakeAnthropic()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(openai.server.url), anthropic: fakeProvider(anthropic.url) },
    })
  })
  afterAll(async () => {
    await gw?.close()
    await openai?.close()
    await anthropic?.close()
  })
  beforeEach(() => openai.server.reset())

  for (const prefix of FRAMEWORKS) {
    for (const base of [prefix, `${prefix}/v1`]) {
      it(`serves OpenAI chat, streamed and not, on ${base}`, async () => {
        const c = new OpenAI({ baseURL: `${gw.url}${base}`, apiKey: 'x', maxRetries: 0 })
        const { data, response } = await c.chat.completions
          .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: `via ${base}` }] })
          .withResponse()
        expect(data.choices[0].message.content).toBe(`Echo: via ${base}`)
        expect(response.headers.get('x-bifrost-provider')).toBe('openai')
        const stream = await c.chat.completions.create({
          model: 'anthropic/claude-3-5-haiku-latest',
          messages: [{ role: 'user', content: 'streamed across' }],
          stream: true,
        })
        let text = ''
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
        expect(text.length).toBeGreaterThan(0)
      })
    }

    it(`serves embeddings, images and transcriptions on ${prefix}`, async () => {
      const c = new OpenAI({ baseURL: `${gw.url}${prefix}`, apiKey: 'x', maxRetries: 0 })
      const emb = await c.embeddings.create({ model: 'openai/text-embedding-3-small', input: 'e' })
      expect(emb.data[0].embedding).toHaveLength(8)
      const img = await c.images.generate({ model: 'openai/dall-e-3', prompt: 'moon' })
      expect(img.data?.[0].url).toBe('https://images.fake/moon/0.png')
      const heard = await c.audio.transcriptions.create({
        model: 'openai/whisper-1',
        file: await toFile(Buffer.from('la la'), 'song.mp3'),
      })
      expect(heard.text).toBe('heard 5 bytes of song.mp3: la la')
    })

    it(`serves Azure deployment paths on ${prefix}/openai/deployments`, async () => {
      const c = new AzureOpenAI({
        endpoint: `${gw.url}${prefix}`,
        apiKey: 'x',
        apiVersion: '2024-10-21',
        maxRetries: 0,
      })
      const { data, response } = await c.chat.completions
        .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'deployed' }] })
        .withResponse()
      expect(data.choices[0].message.content).toBe('Echo: deployed')
      expect(new URL(response.url).pathname).toBe(
        `${prefix}/openai/deployments/openai/gpt-4o-mini/chat/completions`,
      )
    })
  }

  it('answers bad input on a framework route as the OpenAI SDK expects', async () => {
    const c = new OpenAI({ baseURL: `${gw.url}/langchain`, apiKey: 'x', maxRetries: 0 })
    const err = await c.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: [] })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
  })

  it('serves the Anthropic Messages API at {framework}/v1/messages', async () => {
    for (const prefix of FRAMEWORKS) {
      const c = new Anthropic({ baseURL: `${gw.url}${prefix}`, apiKey: 'x', maxRetries: 0 })
      const msg = await c.messages.create({
        model: 'anthropic/claude-3-5-haiku-latest',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'hello claude' }],
      })
      expect(msg.content.length).toBeGreaterThan(0)
    }
  })
})
