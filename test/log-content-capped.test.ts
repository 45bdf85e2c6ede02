import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { fakeProvider, readSse, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

const CAP = 65_536
const MARKER = `[truncated by Heimdall: the log keeps the first ${CAP} characters]`
/** What the upstream sends: 3 MB of text, in 1,000-character deltas when streamed. */
const PIECE = 'abcdefghij'.repeat(100)
const PIECES = 3000

let upstream: Server | undefined
let gw: RunningHeimdall | undefined
afterAll(async () => {
  await gw?.close()
  await new Promise((r) => (upstream ? upstream.close(r) : r(undefined)))
})

function chunk(content: string, finish: string | null): string {
  return `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`
}

async function start(): Promise<RunningHeimdall> {
  if (gw) return gw
  upstream = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const request = JSON.parse(body)
      if (request.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        let i = 0
        const more = () => {
          while (i < PIECES) {
            i++
            // Back-pressure: wait for the socket to drain before writing on.
            if (!res.write(chunk(PIECE, null))) return void res.once('drain', more)
          }
          res.end(chunk('', 'stop') + 'data: [DONE]\n\n')
        }
        more()
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          id: 'c2',
          object: 'chat.completion',
          created: 1,
          model: 'gpt-4o-mini',
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: request.messages[0].content === 'short' ? 'ok' : PIECE.repeat(300),
              },
              finish_reason: 'stop',
            },
          ],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      )
    })
  })
  await new Promise<void>((r) => upstream!.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
  gw = await startHeimdall({
    client: { log_max_content_chars: CAP },
    providers: { openai: fakeProvider(base) },
    logs_store: { type: 'sqlite', flush_interval_ms: 10 } as ConfigFile['logs_store'],
  })
  return gw
}

async function entryOf(running: RunningHeimdall, id: string): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${running.url}/api/logs/${id}`)
    if (res.status === 200) return res.json()
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`no log entry ${id}`)
}

describe('log content cap (client.log_max_content_chars)', () => {
  it('a 3 MB stream reaches the client whole; its log entry keeps the first characters and says it was cut', async () => {
    const running = await start()
    const res = await fetch(`${running.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    })
    expect(res.status).toBe(200)
    const id = res.headers.get('x-request-id')!
    const frames = await readSse(res)
    const received = frames
      .filter((f) => f.data !== '[DONE]')
      .map((f) => JSON.parse(f.data).choices?.[0]?.delta?.content ?? '')
      .join('')
    expect(received.length).toBe(PIECE.length * PIECES)

    const entry = await entryOf(running, id)
    expect(entry.content_truncated).toBe(true)
    const stored: string = entry.output_message.content
    expect(stored.endsWith(MARKER)).toBe(true)
    expect(stored.length).toBeLessThanOrEqual(CAP + MARKER.length + 1)
    expect(stored.startsWith(PIECE)).toBe(true)
  })

  it('a non-streamed answer and a request body longer than the cap are stored cut, with the marker', async () => {
    const running = await start()
    const big = 'x'.repeat(CAP * 2)
    const res = await fetch(`${running.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: big }] }),
    })
    expect(res.status).toBe(200)
    const id = res.headers.get('x-request-id')!
    const body = (await res.json()) as any
    expect(body.choices[0].message.content.length).toBe(PIECE.length * 300)

    const entry = await entryOf(running, id)
    expect(entry.content_truncated).toBe(true)
    for (const stored of [entry.request, entry.response]) {
      expect(typeof stored).toBe('string')
      expect(stored.endsWith(MARKER)).toBe(true)
      expect(stored.length).toBeLessThanOrEqual(CAP + MARKER.length + 1)
    }
  })

  it('content under the cap is stored whole and not marked', async () => {
    const running = await start()
    const res = await fetch(`${running.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'short' }] }),
    })
    const id = res.headers.get('x-request-id')!
    await res.text()
    const entry = await entryOf(running, id)
    expect(entry.request.messages[0].content).toBe('short')
    expect(entry.output_message.content).toBe('ok')
    expect(entry.content_truncated).toBeUndefined()
  })
})
