// How many Redis round trips a governed request waits for before its answer: Heimdall in-process,
// its counters on the local Redis through a TCP proxy that holds every command for DELAY ms, one
// request at a time. Each round trip on the path adds about DELAY to the latency, so
// (governed median - plain median) / DELAY is the number of round trips the answer waits for.
// node --import tsx bench/redis-hot-path.ts   (REDIS_URL's host and port; BENCH_REDIS_DELAY_MS=25)
import { connect, createServer, type Socket } from 'node:net'
import { startFakeOpenAI } from '../test/fakes/openai.js'
import { fakeProvider, startHeimdall } from '../test/helpers/heimdall.js'
import type { ConfigFile } from '../src/core/schemas/index.js'

const DELAY = Number(process.env.BENCH_REDIS_DELAY_MS ?? 25)
const REQUESTS = 15
const redis = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')

const proxy = createServer((client: Socket) => {
  const upstream = connect(Number(redis.port || 6379), redis.hostname)
  client.setNoDelay(true)
  upstream.setNoDelay(true)
  client.on('data', (d) => setTimeout(() => upstream.write(d), DELAY))
  upstream.on('data', (d) => client.write(d))
  client.on('error', () => upstream.destroy())
  upstream.on('error', () => client.destroy())
  client.on('close', () => upstream.destroy())
})
await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
const port = (proxy.address() as { port: number }).port
const fake = await startFakeOpenAI()
const gw = await startHeimdall({
  providers: { openai: fakeProvider(fake.url) },
  cluster: { redis_url: `redis://127.0.0.1:${port}`, prefix: `bench-hot-path-${process.pid}:` },
} as unknown as ConfigFile)

try {
  const created = await fetch(`${gw.url}/api/governance/virtual-keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'hot-path',
      budgets: [{ max_limit: 100, reset_duration: '1d' }],
      rate_limit: { request_max_limit: 100_000, request_reset_duration: '1h' },
      provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
    }),
  })
  const vk = ((await created.json()) as { virtual_key: { value: string } }).virtual_key.value
  const median = async (headers: Record<string, string>) => {
    const times: number[] = []
    for (let i = 0; i < REQUESTS; i++) {
      const started = performance.now()
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      })
      await res.text()
      if (res.status !== 200) throw new Error(`status ${res.status}`)
      times.push(performance.now() - started)
    }
    return times.sort((a, b) => a - b)[Math.floor(REQUESTS / 2)]!
  }
  const plain = await median({})
  const governed = await median({ 'x-bf-vk': vk })
  console.log(`Redis held ${DELAY} ms per command; median of ${REQUESTS} sequential requests`)
  console.log(`plain ${plain.toFixed(1)} ms, governed ${governed.toFixed(1)} ms`)
  console.log(`round trips the governed answer waits for: ${((governed - plain) / DELAY).toFixed(2)}`)
} finally {
  await gw.close()
  await fake.close()
  proxy.close()
}
