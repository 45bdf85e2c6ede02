import { describe, expect, it } from 'vitest'
import { createContext, overheadNs } from './context.js'
import type { Usage } from './schemas/index.js'
import { openStream, relayStream } from './stream-relay.js'

const NO_PLUGINS = { list: [], anyPostHook: false, anyStreamRewrite: false, streamRewriters: [] }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const busy = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until);
}
const ms = (ns: bigint) => Number(ns) / 1e6

describe('a relayed stream splits its time into upstream waits and the gateway own work', () => {
  it('counts the waits for the next item as upstream and the work on each item as overhead', async () => {
    const ctx = createContext({
      requestId: 'r1',
      requestType: 'chat_completion',
      signal: new AbortController().signal,
      headers: {},
      modelRequested: 'gpt-4o-mini',
    })
    async function* upstream(): AsyncGenerator<{ data: string; usage?: Usage }> {
      for (let i = 0; i < 4; i++) {
        await sleep(40)
        yield { data: `item ${i}` }
      }
    }
    const opened = await openStream({ items: upstream(), headers: {} })
    const relayed = relayStream(ctx, NO_PLUGINS, opened, async () => undefined)
    let count = 0
    for await (const item of relayed.items) {
      expect(item).toEqual({ data: `item ${count}` })
      count++
      busy(15) // the client-side writes of one item: the gateway's own time
    }
    expect(count).toBe(4)
    expect(ctx.ended).toBe(true)
    // Three waits of ~40 ms after the first item (openStream read that one): upstream.
    expect(ms(ctx.upstreamNs)).toBeGreaterThanOrEqual(3 * 35)
    // Four items' work of 15 ms: the overhead, no longer counted as upstream time.
    const own = ms(overheadNs(ctx)) - 40 // less the first item's wait, read before the relay
    expect(own).toBeGreaterThanOrEqual(4 * 14)
    expect(own).toBeLessThan(4 * 15 + 40)
  })
})
