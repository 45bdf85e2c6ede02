import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeAnthropic } from './fakes/anthropic.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'

/**
 * An OpenAI-format provider whose Responses stream starts, sends an event whose data names no
 * `type` (only its SSE `event:` line does), then fails with an `error` event.
 */
async function startFailingResponses(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const response = { id: 'resp_1', object: 'response', status: 'in_progress', output: [] }
      res.write(
        `event: response.created\ndata: ${JSON.stringify({ type: 'response.created', sequence_number: 0, response })}\n\n`,
      )
      res.write(`event: response.in_progress\ndata: ${JSON.stringify({ sequence_number: 1, response })}\n\n`)
      res.end(`event: error\ndata: ${JSON.stringify({ type: 'error', message: 'upstream exploded' })}\n\n`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

type AnyEvent = { type?: string; sequence_number?: number; message?: string }

describe('the error event of a /v1/responses stream', () => {
  let upstream: { url: string; close(): Promise<void> }
  let anthropic: FakeServer
  let gw: RunningHeimdall
  let client: OpenAI

  beforeAll(async () => {
    ;[upstream, anthropic] = await Promise.all([startFailingResponses(), startFakeAnthropic()])
    gw = await startHeimdall({
      providers: { openai: fakeProvider(upstream.url), anthropic: fakeProvider(anthropic.url) },
    })
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw.close()
    await Promise.all([upstream.close(), anthropic.close()])
  })

  it('relayed from an OpenAI provider: named events, then the gateway message with the next sequence number', async () => {
    const events: AnyEvent[] = []
    const stream = await client.responses.create({ model: 'openai/gpt-4o-mini', input: 'hi', stream: true })
    for await (const ev of stream) events.push(ev as AnyEvent)
    expect(events.map((e) => e.type)).toEqual(['response.created', 'response.in_progress', 'error'])
    const error = events[2]
    expect(error.message).toBe('openai stream broke off: upstream exploded')
    expect(error.sequence_number).toBe(2)
  })

  it('translated from chat (Anthropic cut mid-stream): the SDK helper sees the gateway message', async () => {
    anthropic.fail({ kind: 'drop', afterEvents: 3 })
    const stream = client.responses.stream({
      model: 'anthropic/claude-3-5-haiku-latest',
      input: 'hello there',
    })
    const seen: AnyEvent[] = []
    stream.on('event', (ev) => seen.push(ev as AnyEvent))
    await stream.done().catch(() => undefined)
    const error = seen.at(-1)!
    expect(error.type).toBe('error')
    expect(error.message).toMatch(/^anthropic stream broke off/)
    const before = seen.slice(0, -1).map((e) => e.sequence_number!)
    expect(before.length).toBeGreaterThan(0)
    expect(error.sequence_number).toBe(Math.max(...before) + 1)
  })
})
