import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { backends } from './helpers/databases.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * A stream cut before its usage chunk still costs what was served: the entry carries estimated
 * tokens and cost, says the cost was estimated, and `cost_estimated` finds it.
 */

let fake: FakeServer | undefined
let gw: RunningHeimdall | undefined
afterAll(async () => {
  await gw?.close()
  await fake?.close()
})

async function logs(query: string): Promise<any> {
  const res = await fetch(`${gw!.url}/api/logs?${query}`)
  const body = (await res.json()) as any
  expect(res.status, JSON.stringify(body)).toBe(200)
  return body
}

describe('estimated cost in request logs', () => {
  it('marks a cut stream’s tokens and cost as estimated, and filters on it', async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      logs_store: {
        ...(await backends('logs-cost')[0].fresh()),
        flush_interval_ms: 10,
      } as unknown as ConfigFile['logs_store'],
    })
    const send = (content: string, stream: boolean) =>
      fetch(`${gw!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'openai/gpt-4o-mini',
          stream,
          messages: [{ role: 'user', content }],
        }),
      }).then((r) => r.text().catch(() => ''))

    await send('whole answer please', false)
    // The connection drops after the role chunk and two pieces of text: no usage chunk comes.
    // Long words: the relay counts a frame's content as its size beyond the role frame's.
    fake.fail({ kind: 'drop', afterEvents: 3 })
    const word = (c: string) => c.repeat(60)
    await send(['a', 'b', 'c', 'd', 'e'].map(word).join(' '), true)

    let all: any
    for (let i = 0; i < 200; i++) {
      all = await logs('limit=10')
      if (all.logs.length >= 2 && all.pagination.total_count >= 2) break
      await sleep(25)
    }
    expect(all.pagination.total_count).toBe(2)
    const cut = all.logs.find((l: any) => l.stream)
    const whole = all.logs.find((l: any) => !l.stream)
    expect(whole).toMatchObject({ cost_estimated: false, status: 'success' })
    expect(whole.cost).toBeGreaterThan(0)
    // What was served ("Echo: aaa…") is counted, and the prompt estimated from the request.
    expect(cut.cost_estimated, JSON.stringify(cut)).toBe(true)
    expect(cut.token_usage.prompt_tokens).toBeGreaterThan(0)
    expect(cut.token_usage.completion_tokens).toBeGreaterThan(0)
    expect(cut.total_tokens).toBe(cut.token_usage.prompt_tokens + cut.token_usage.completion_tokens)
    expect(cut.cost).toBeGreaterThan(0)

    expect((await logs('cost_estimated=true')).logs.map((l: any) => l.id)).toEqual([cut.id])
    expect((await logs('cost_estimated=false')).logs.map((l: any) => l.id)).toEqual([whole.id])
    const stats = await fetch(`${gw.url}/api/logs/stats?cost_estimated=true`).then((r) => r.json() as any)
    expect(stats.total_requests).toBe(1)
    const bad = await fetch(`${gw.url}/api/logs?cost_estimated=maybe`)
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as any).error.param).toBe('cost_estimated')
  })
})
