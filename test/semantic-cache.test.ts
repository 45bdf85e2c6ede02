import Anthropic from '@anthropic-ai/sdk'
import { GoogleGenAI } from '@google/genai'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeBagOfWordsEmbeddings } from './fakes/bag-of-words-embeddings.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { cacheConfig, debugOf, untilHit } from './helpers/semantic-cache.js'

const MODEL = 'openai/gpt-4o-mini'

describe('semantic_cache: exact and by meaning, through the official SDKs', () => {
  let chat: FakeServer
  let embed: FakeServer
  let gw: RunningHeimdall
  let openai: OpenAI
  const chatCalls = () => chat.requests.filter((r) => r.path.endsWith('/chat/completions')).length

  const ask = (content: string, headers: Record<string, string>, extra: object = {}) =>
    openai.chat.completions.create(
      { model: MODEL, messages: [{ role: 'user', content }], ...extra },
      { headers },
    )

  beforeAll(async () => {
    chat = await startFakeOpenAI()
    embed = await startFakeBagOfWordsEmbeddings()
    gw = await startHeimdall(cacheConfig(chat.url, embed.url))
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw?.close()
    await chat?.close()
    await embed?.close()
  })
  beforeEach(() => {
    chat.reset()
    embed.reset()
  })

  it('without x-bf-cache-key (and no default_cache_key) nothing is looked up or stored', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await ask('no key here', {})
      expect(debugOf(r)).toBeUndefined()
    }
    expect(chatCalls()).toBe(2)
    expect(embed.requests).toHaveLength(0)
  })

  it('an exact repeat is served from the cache: same answer, no provider call, cache_debug says direct', async () => {
    const headers = { 'x-bf-cache-key': 'exact', 'x-bf-cache-type': 'direct' }
    const first = await ask('What is two plus two?', headers)
    expect(debugOf(first)).toMatchObject({ cache_hit: false })
    const hit = await untilHit(() => ask('What is two plus two?', headers), debugOf)
    expect(debugOf(hit)).toEqual({ cache_hit: true, hit_type: 'direct', cache_id: debugOf(first)!.cache_id })
    expect(hit.choices[0].message.content).toBe(first.choices[0].message.content)
    expect(hit.usage).toEqual(first.usage)
    const calls = chatCalls()
    await ask('What is two plus two?', headers)
    expect(chatCalls()).toBe(calls)
    // Direct lookups never embed.
    expect(embed.requests).toHaveLength(0)
  })

  it('a request that means the same is a semantic hit with its similarity; an unrelated one is a miss', async () => {
    const headers = { 'x-bf-cache-key': 'meaning' }
    const first = await ask('What is the capital city of France?', headers)
    expect(debugOf(first)).toMatchObject({
      cache_hit: false,
      provider_used: 'embedder',
      model_used: 'bag-of-words',
    })
    const hit = await untilHit(() => ask('what is THE capital city of france', headers), debugOf)
    const d = debugOf(hit)!
    expect(d).toMatchObject({ cache_hit: true, hit_type: 'semantic', cache_id: debugOf(first)!.cache_id })
    expect(d.similarity).toBeGreaterThanOrEqual(0.8)
    expect(d.threshold).toBe(0.8)
    expect(d.input_tokens).toBeGreaterThan(0)
    expect(hit.choices[0].message.content).toBe(first.choices[0].message.content)

    const before = chatCalls()
    const other = await ask('How long should bread dough rise?', headers)
    expect(debugOf(other)).toMatchObject({ cache_hit: false })
    expect(chatCalls()).toBe(before + 1)
  })

  it('a close request below the threshold (x-bf-cache-threshold) is a miss', async () => {
    const headers = { 'x-bf-cache-key': 'threshold' }
    const first = await ask('name the largest planet in the solar system', headers)
    await untilHit(() => ask('name the largest planet in the solar system', headers), debugOf)
    const close = 'please name the largest planet in our solar system'
    const strict = await ask(close, {
      ...headers,
      'x-bf-cache-threshold': '0.99',
      'x-bf-cache-no-store': 'true',
    })
    expect(debugOf(strict)).toMatchObject({ cache_hit: false })
    const loose = await ask(close, { ...headers, 'x-bf-cache-threshold': '0.5' })
    expect(debugOf(loose)).toMatchObject({ cache_hit: true, hit_type: 'semantic', threshold: 0.5 })
    expect(debugOf(loose)!.similarity).toBeLessThan(0.99)
    expect(loose.choices[0].message.content).toBe(first.choices[0].message.content)
  })

  it('an entry expires after its x-bf-cache-ttl', async () => {
    const headers = { 'x-bf-cache-key': 'ttl', 'x-bf-cache-ttl': '1s', 'x-bf-cache-type': 'direct' }
    await ask('short lived question', headers)
    const hit = await untilHit(() => ask('short lived question', headers), debugOf)
    expect(debugOf(hit)?.cache_hit).toBe(true)
    await new Promise((r) => setTimeout(r, 1100))
    const after = await ask('short lived question', { ...headers, 'x-bf-cache-no-store': 'true' })
    expect(debugOf(after)).toMatchObject({ cache_hit: false })
  })

  it('x-bf-cache-no-store answers without storing', async () => {
    const headers = {
      'x-bf-cache-key': 'nostore',
      'x-bf-cache-type': 'direct',
      'x-bf-cache-no-store': 'true',
    }
    await ask('do not keep this', headers)
    await new Promise((r) => setTimeout(r, 300))
    const again = await ask('do not keep this', headers)
    expect(debugOf(again)).toMatchObject({ cache_hit: false })
    expect(chatCalls()).toBe(2)
  })

  it('a conversation longer than conversation_history_threshold (3) is neither looked up nor stored', async () => {
    const messages = [
      { role: 'user' as const, content: 'one' },
      { role: 'assistant' as const, content: 'two' },
      { role: 'user' as const, content: 'three' },
      { role: 'assistant' as const, content: 'four' },
    ]
    const headers = { 'x-bf-cache-key': 'history', 'x-bf-cache-type': 'direct' }
    for (let i = 0; i < 2; i++) {
      const r = await openai.chat.completions.create({ model: MODEL, messages }, { headers })
      expect(debugOf(r)).toBeUndefined()
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(chatCalls()).toBe(2)
    const short = await openai.chat.completions.create(
      { model: MODEL, messages: messages.slice(0, 3) },
      { headers },
    )
    expect(debugOf(short)).toMatchObject({ cache_hit: false })
  })

  it('bad cache headers are refused with a 400 in Bifrost shape', async () => {
    for (const [name, value] of [
      ['x-bf-cache-ttl', 'soon'],
      ['x-bf-cache-threshold', '1.5'],
      ['x-bf-cache-type', 'fuzzy'],
    ]) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-bf-cache-key': 'bad', [name]: value },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
      })
      expect(res.status).toBe(400)
      const body = (await res.json()) as { is_bifrost_error: boolean; error: { message: string } }
      expect(body.is_bifrost_error).toBe(true)
      expect(body.error.message).toContain(name)
    }
    expect(chatCalls()).toBe(0)
  })

  it('DELETE /api/cache/clear/{cache_id} and /api/cache/clear-by-key/{key} invalidate entries', async () => {
    const a = { 'x-bf-cache-key': 'clearme' }
    const first = await ask('Which ocean is the deepest?', a)
    await untilHit(() => ask('Which ocean is the deepest?', a), debugOf)
    const cleared = await callJson(gw.url, 'DELETE', `/api/cache/clear/${debugOf(first)!.cache_id}`)
    expect(cleared).toEqual({ status: 200, body: { message: 'Cache cleared successfully' } })
    // Gone for exact and semantic lookups alike.
    const miss = await ask('Which ocean is the deepest?', { ...a, 'x-bf-cache-no-store': 'true' })
    expect(debugOf(miss)).toMatchObject({ cache_hit: false })
    expect((await callJson(gw.url, 'DELETE', `/api/cache/clear/${debugOf(first)!.cache_id}`)).status).toBe(
      404,
    )

    await ask('Which mountain is the highest?', a)
    await ask('Which river is the longest?', a)
    await untilHit(() => ask('Which river is the longest?', a), debugOf)
    const byKey = await callJson(gw.url, 'DELETE', '/api/cache/clear-by-key/clearme')
    expect(byKey.status).toBe(200)
    expect(byKey.body.cleared).toBeGreaterThanOrEqual(2)
    for (const q of ['Which mountain is the highest?', 'Which river is the longest?']) {
      const r = await ask(q, { ...a, 'x-bf-cache-no-store': 'true' })
      expect(debugOf(r)).toMatchObject({ cache_hit: false })
    }
  })

  it('a stream is stored and replays as an OpenAI stream with usage and cache_debug on its last chunk', async () => {
    const headers = { 'x-bf-cache-key': 'streams' }
    const stream = (content: string) =>
      openai.chat.completions.create(
        {
          model: MODEL,
          messages: [{ role: 'user', content }],
          stream: true,
          stream_options: { include_usage: true },
        },
        { headers },
      )
    const collect = async (content: string) => {
      let text = ''
      let last: unknown
      let usage: unknown
      for await (const chunk of await stream(content)) {
        text += chunk.choices[0]?.delta?.content ?? ''
        if (chunk.usage) usage = chunk.usage
        last = chunk
      }
      return { text, usage, debug: debugOf(last) }
    }
    const first = await collect('Tell me a short story about a fox')
    expect(first.text.length).toBeGreaterThan(0)
    const replay = await untilHit(
      () => collect('Tell me a short story about a fox'),
      (r) => r.debug,
    )
    expect(replay.debug).toMatchObject({ cache_hit: true, hit_type: 'direct' })
    expect(replay.text).toBe(first.text)
    expect(replay.usage).toEqual(first.usage)
    // A non-streamed request with the same content is served from the streamed entry.
    const body = await ask('Tell me a short story about a fox', headers)
    expect(debugOf(body)).toMatchObject({ cache_hit: true })
    expect(body.choices[0].message.content).toBe(first.text)
  })

  it('an Anthropic-format caller gets the cached answer as Anthropic events, with usage', async () => {
    const anthropic = new Anthropic({
      baseURL: `${gw.url}/anthropic`,
      apiKey: 'sk-ant-unused',
      maxRetries: 0,
    })
    const headers = { 'x-bf-cache-key': 'anthropic' }
    const params = {
      model: MODEL,
      max_tokens: 100,
      messages: [{ role: 'user' as const, content: 'Describe the color of the sky' }],
    }
    const first = await anthropic.messages.create(params, { headers })
    const firstText = first.content.map((b) => (b.type === 'text' ? b.text : '')).join('')
    const calls = () => chatCalls()
    let replayed = ''
    let final: Anthropic.Message | undefined
    for (let i = 0; i < 200 && replayed !== firstText; i++) {
      const before = calls()
      const s = anthropic.messages.stream(params, { headers })
      replayed = ''
      for await (const ev of s)
        if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') replayed += ev.delta.text
      final = await s.finalMessage()
      if (calls() === before) break
      await new Promise((r) => setTimeout(r, 25))
    }
    expect(replayed).toBe(firstText)
    expect(final!.usage.output_tokens).toBe(first.usage.output_tokens)
    const before = calls()
    await anthropic.messages.stream(params, { headers }).finalMessage()
    expect(calls()).toBe(before)
  })

  it('a Gemini-format caller gets the cached answer as Gemini stream chunks, with usage', async () => {
    const ai = new GoogleGenAI({
      apiKey: 'AIza-unused',
      httpOptions: {
        baseUrl: `${gw.url}/genai`,
        headers: { 'x-bf-cache-key': 'gemini' },
        retryOptions: { attempts: 1 },
      },
    })
    const params = { model: MODEL, contents: 'Name three primary colors' }
    const first = await ai.models.generateContent(params)
    const collect = async () => {
      let text = ''
      let usage: unknown
      for await (const chunk of await ai.models.generateContentStream(params)) {
        text += chunk.text ?? ''
        if (chunk.usageMetadata) usage = chunk.usageMetadata
      }
      return { text, usage }
    }
    // Until the entry is written: a replay that made no provider call.
    for (let i = 0; i < 100; i++) {
      const before = chatCalls()
      await collect()
      if (chatCalls() === before) break
      await new Promise((r) => setTimeout(r, 25))
    }
    const before = chatCalls()
    const replay = await collect()
    expect(chatCalls()).toBe(before)
    expect(replay.text).toBe(first.text)
    expect(replay.usage).toMatchObject({ totalTokenCount: first.usageMetadata?.totalTokenCount })
  })
})
