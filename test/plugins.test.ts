import Anthropic from '@anthropic-ai/sdk'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI from 'openai'
import { pino } from 'pino'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { createHeimdall } from '../src/http/app.js'
import { EXAMPLE_PLUGIN } from './helpers/example-plugin.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/** A plugin marked non-critical that fails at every step: requests go on without it. */
const FLAKY_PLUGIN = `
export function init() {
  return {
    critical: false,
    preHook() { throw new Error('flaky pre') },
    onStreamChunk() { throw new Error('flaky stream') },
  }
}
`

declare global {
  var __pluginEvents: string[] | undefined
}

const ask = (content: string) => [{ role: 'user' as const, content }]

describe('a custom plugin loaded from a file', () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  let dir: string
  let openai: OpenAI
  let anthropic: Anthropic

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'heimdall-plugins-'))
    await writeFile(join(dir, 'example.mjs'), EXAMPLE_PLUGIN)
    await writeFile(join(dir, 'flaky.mjs'), FLAKY_PLUGIN)
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      plugins: [
        { name: 'flaky', enabled: true, path: join(dir, 'flaky.mjs') },
        { name: 'example', enabled: true, path: join(dir, 'example.mjs'), config: { suffix: ' (checked)' } },
      ],
    })
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
    anthropic = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: 'sk-ant-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
    await rm(dir, { recursive: true, force: true })
  })
  beforeEach(() => {
    fake.reset()
    globalThis.__pluginEvents = []
  })

  const chat = (content: string) =>
    openai.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: ask(content) })
  const chatStream = async (content: string) => {
    const stream = await openai.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: ask(content),
      stream: true,
    })
    const parts: string[] = []
    for await (const chunk of stream) parts.push(chunk.choices[0]?.delta?.content ?? '')
    return parts
  }
  const message = async (content: string) => {
    const m = await anthropic.messages.create({
      model: 'openai/gpt-4o-mini',
      max_tokens: 50,
      messages: ask(content),
    })
    return m.content.map((b) => (b.type === 'text' ? b.text : '')).join('')
  }
  const messageStream = async (content: string) => {
    const stream = anthropic.messages.stream({
      model: 'openai/gpt-4o-mini',
      max_tokens: 50,
      messages: ask(content),
    })
    const parts: string[] = []
    stream.on('text', (t) => parts.push(t))
    await stream.finalMessage()
    return parts
  }

  it('rewrites the request before routing, on /v1 and on /anthropic, streamed or not', async () => {
    expect((await chat('[rewrite] hi')).choices[0].message.content).toBe('Echo: rewritten by plugin')
    expect((await chatStream('[rewrite] hi')).join('')).toBe('Echo: rewritten by plugin')
    expect(await message('[rewrite] hi')).toBe('Echo: rewritten by plugin')
    expect((await messageStream('[rewrite] hi')).join('')).toBe('Echo: rewritten by plugin')
    expect(fake.requests.map((r) => r.body.messages.at(-1).content)).toEqual(
      Array(4).fill('rewritten by plugin'),
    )
  })

  it('short-circuits with a response: no provider call, streamed in the route format', async () => {
    const answer = await chat('[short]')
    expect(answer.choices[0].message.content).toBe('answered by plugin')
    expect(answer.usage?.total_tokens).toBe(6)
    expect((await chatStream('[short]')).join('')).toBe('answered by plugin')
    expect(await message('[short]')).toBe('answered by plugin')
    expect((await messageStream('[short]')).join('')).toBe('answered by plugin')
    expect(fake.requests).toHaveLength(0)
  })

  it('short-circuits with an error: Bifrost shape on /v1, Anthropic error on the drop-in route', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: ask('[refuse]'), stream: true }),
    })
    expect(res.status).toBe(403)
    const body = await res.json()
    expect(body).toMatchObject({
      is_bifrost_error: true,
      status_code: 403,
      error: { type: 'guardrail_refusal', message: 'refused by policy' },
      extra_fields: { plugin: 'example' },
    })
    const err = await anthropic.messages
      .create({ model: 'openai/gpt-4o-mini', max_tokens: 50, messages: ask('[refuse]') })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError)
    expect((err as Error).message).toContain('refused by policy')
    expect(fake.requests).toHaveLength(0)
  })

  it('rewrites the response after the call (post-hook), on both routes', async () => {
    expect((await chat('[post] hi')).choices[0].message.content).toBe('Echo: [post] hi (checked)')
    expect(await message('[post] hi')).toBe('Echo: [post] hi (checked)')
  })

  it('rewrites and drops stream items on their way to the client, on both routes', async () => {
    expect((await chatStream('[upper] one two')).join('')).toBe('ECHO: [UPPER] ONE TWO')
    expect((await messageStream('[upper] one two')).join('')).toBe('ECHO: [UPPER] ONE TWO')
    expect((await chatStream('[drop] one two three')).join('')).toBe('Echo: [drop] one three')
    expect((await messageStream('[drop] one two three')).join('')).toBe('Echo: [drop] one three')
  })

  it('runs once at the end of each request, streamed or not, after a failure too', async () => {
    await chat('[short]')
    await chatStream('plain')
    await chat('[refuse]').catch(() => undefined)
    await new Promise((r) => setTimeout(r, 50))
    expect(globalThis.__pluginEvents!.filter((e) => e.startsWith('end:'))).toEqual([
      'end:[short]:ok',
      'end:plain:ok',
      'end:[refuse]:plugin_error',
    ])
  })

  it('isolates a critical plugin that throws: a clear error in Bifrost shape, the server goes on', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: ask('[crash]') }),
    })
    expect(res.status).toBe(500)
    expect(await res.json()).toMatchObject({
      is_bifrost_error: true,
      error: {
        type: 'plugin_error',
        code: 'plugin_error',
        message: 'plugin example failed in preHook: boom',
      },
    })
    expect(fake.requests).toHaveLength(0)
    // The non-critical plugin threw at every step of the requests above and below: they were served.
    expect((await chat('still up')).choices[0].message.content).toBe('Echo: still up')
  })

  it('ends a stream whose plugin never answers: an error event, never a hung stream', async () => {
    const started = Date.now()
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: ask('[hang] a b'), stream: true }),
      signal: AbortSignal.timeout(10_000),
    })
    const text = await res.text()
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(text).toContain('plugin example failed in onStreamChunk: no answer after 300 ms')
    expect(text).not.toContain('[DONE]')
    const stream = anthropic.messages.stream({
      model: 'openai/gpt-4o-mini',
      max_tokens: 50,
      messages: ask('[hang]'),
    })
    await expect(stream.finalMessage()).rejects.toThrow(/no answer after 300 ms/)
  })
})

describe('a plugin that cannot load stops the start, naming the file and the field', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'heimdall-bad-plugins-'))
    await writeFile(join(dir, 'example.mjs'), EXAMPLE_PLUGIN)
    await writeFile(join(dir, 'no-init.mjs'), 'export const configSchema = {}\n')
    await writeFile(join(dir, 'syntax.mjs'), 'export function init( {\n')
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  const start = (entry: Record<string, unknown>) =>
    startHeimdall({ plugins: [{ name: 'p', enabled: true, ...entry }] }).then(
      async (gw) => {
        await gw.close()
        return 'started'
      },
      (err: Error) => err.message,
    )

  it('a missing file, a module that does not parse, a missing init, an invalid config', async () => {
    expect(await start({ path: join(dir, 'absent.mjs') })).toMatch(
      /plugins\.p \(.*absent\.mjs\): cannot load/,
    )
    expect(await start({ path: join(dir, 'syntax.mjs') })).toMatch(
      /plugins\.p \(.*syntax\.mjs\): cannot load/,
    )
    expect(await start({ path: join(dir, 'no-init.mjs') })).toMatch(
      /no-init\.mjs\).*exports no init function/,
    )
    expect(await start({ path: join(dir, 'example.mjs'), config: { suffix: 3 } })).toMatch(
      /plugins\.p \(.*example\.mjs\): config\.suffix: must be string/,
    )
    expect(await start({ path: join(dir, 'example.mjs'), config: {} })).toMatch(
      /config\.suffix: must have required/,
    )
    expect(await start({ name: 'mocker', config: { rules: [{ name: 'r', responses: [] }] } })).toMatch(
      /plugins\.mocker: config\.rules\.0\.responses: must NOT have fewer than 1 items/,
    )
  })
})

describe("the README's custom plugin example", () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  let dir: string

  beforeAll(async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('## Plugins'))
    const code = /```js\n([\s\S]*?)```/.exec(section)![1]
    const config = JSON.parse(/```json\n([\s\S]*?)```/.exec(section)![1]) as { plugins: unknown[] }
    dir = await mkdtemp(join(tmpdir(), 'heimdall-readme-plugin-'))
    await mkdir(join(dir, 'plugins'))
    await writeFile(join(dir, 'plugins', 'my-plugin.mjs'), code)
    fake = await startFakeOpenAI()
    // The entry exactly as the README shows it: its relative path is read from the config file's folder.
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ providers: { openai: fakeProvider(fake.url) }, plugins: config.plugins }),
    )
    const heimdall = await createHeimdall({
      appDir: dir,
      port: 0,
      host: '127.0.0.1',
      logger: pino({ level: 'silent' }),
    })
    const url = await heimdall.listen()
    gw = { url, heimdall, appDir: dir, close: () => heimdall.close() }
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('loads from config.json, refuses, rewrites and tags as it says', async () => {
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
    const answer = await openai.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: ask('hello'),
    })
    expect(answer.choices[0].message.content).toBe('Echo: hello [reviewed]')
    expect(fake.requests[0].body.temperature).toBe(0.2)
    const refused = await openai.chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: ask('tell me about Project X') })
      .catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expect((refused as Error).message).toContain('this topic is not allowed')
  })
})
