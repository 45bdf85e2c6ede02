/**
 * The response cache's cost per request (src/plugins/semantic-cache): CPU µs of the plugin's lookup
 * on an exact miss, an exact hit, and a lookup by meaning over 10,000 cached entries (miss and hit;
 * the embedding call itself stubbed out, it is a provider call of its own), against the SQLite
 * config store; then the latency of a hit over HTTP through the whole gateway, next to a miss
 * served by the fake OpenAI. `npx tsx bench/cache-lookup.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kysely } from 'kysely'
import OpenAI from 'openai'
import { Cancellation } from '../src/core/cancel.js'
import { createContext } from '../src/core/context.js'
import type { GatewayPlugin, PluginRequest } from '../src/core/plugins.js'
import { createSemanticCache } from '../src/plugins/semantic-cache/index.js'
import { openConfigStore } from '../src/store/index.js'
import { startFakeBagOfWordsEmbeddings } from '../test/fakes/bag-of-words-embeddings.js'
import { startFakeOpenAI } from '../test/fakes/openai.js'
import { startHeimdall } from '../test/helpers/heimdall.js'
import { cacheConfig, debugOf } from '../test/helpers/semantic-cache.js'

const ENTRIES = 10_000
const DIMS = 256
const WORDS = 'river mountain ocean city planet language color music garden winter bridge engine'.split(' ')
const question = (i: number) =>
  `question ${i}: tell me about the ${WORDS[i % 12]} ${WORDS[(i * 7) % 12]} and the ${WORDS[(i * 5) % 12]} number ${i}`

/** A stand-in for an embedding model: a random unit-scale vector seeded by the lower-cased text. */
function embedding(text: string): number[] {
  let seed = 2166136261
  for (const c of text.toLowerCase()) seed = Math.imul(seed ^ c.charCodeAt(0), 16777619)
  const v: number[] = []
  for (let i = 0; i < DIMS; i++) {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    v.push(((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5)
  }
  return v
}
const embed = async (_c: unknown, _m: string, text: string) => ({ vector: embedding(text), tokens: 1 })

const request = (content: string): PluginRequest => ({
  model: 'openai/gpt-4o-mini',
  messages: [{ role: 'user', content }],
})

function context(headers: Record<string, string>) {
  return createContext({
    requestId: 'bench',
    requestType: 'chat_completion',
    signal: new Cancellation(),
    headers,
    modelRequested: 'openai/gpt-4o-mini',
  })
}

async function measure(name: string, n: number, run: (i: number) => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 50; i++) await run(i)
  let hits = 0
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) if (await run(i)) hits++
  const wallUs = Number(process.hrtime.bigint() - t0) / n / 1000
  const cpu = process.cpuUsage(cpu0)
  const cpuUs = (cpu.user + cpu.system) / n
  console.log(
    `${name.padEnd(46)} ${cpuUs.toFixed(1).padStart(7)} µs CPU ${wallUs.toFixed(1).padStart(8)} µs wall  (${hits}/${n} hits)`,
  )
}

async function lookups(): Promise<void> {
  const appDir = await mkdtemp(join(tmpdir(), 'heimdall-bench-cache-'))
  const store = await openConfigStore(undefined, { appDir })
  const db = store.db as unknown as Kysely<unknown>
  const response = {
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [
      { index: 0, message: { role: 'assistant', content: 'A cached answer.' }, finish_reason: 'stop' },
    ],
    usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 },
  }
  // Entries written as the plugin writes them: by a plugin instance answering misses.
  const writer = createSemanticCache(
    { provider: 'embedder', embedding_model: 'bow', dimension: DIMS, ttl: '1h', threshold: 1 },
    { db, embed },
  )
  const t0 = Date.now()
  for (let i = 0; i < ENTRIES; i++) {
    const ctx = context({ 'x-bf-cache-key': 'bench' })
    await writer.preHook!(ctx, request(question(i)))
    writer.postHook!(ctx, { response })
  }
  await writer.cleanup!()
  console.log(`${ENTRIES} entries written in ${((Date.now() - t0) / 1000).toFixed(1)} s`)

  const t1 = Date.now()
  const plugin: GatewayPlugin = createSemanticCache(
    {
      provider: 'embedder',
      embedding_model: 'bow',
      dimension: DIMS,
      threshold: 0.95,
      lookup_timeout_ms: 60_000,
    },
    { db, embed },
  )
  const hit = async (headers: Record<string, string>, content: string) => {
    const r = await plugin.preHook!(context(headers), request(content))
    return Boolean(r && r.shortCircuit)
  }
  await hit({ 'x-bf-cache-key': 'bench' }, 'warm up the index')
  console.log(`vector index of ${ENTRIES} entries rebuilt at start in ${Date.now() - t1} ms`)

  const direct = { 'x-bf-cache-key': 'bench', 'x-bf-cache-type': 'direct' }
  const semantic = { 'x-bf-cache-key': 'bench', 'x-bf-cache-type': 'semantic' }
  await measure('no cache key (not looked up)', 5000, (i) => hit({}, question(i)))
  await measure('exact lookup, miss', 5000, (i) => hit(direct, `unseen ${question(i)}`))
  await measure('exact lookup, hit', 5000, (i) => hit(direct, question(i % ENTRIES)))
  await measure(`by meaning over ${ENTRIES}, miss (embedding stubbed)`, 2000, (i) =>
    hit(semantic, `completely different words ${i} zebra quantum`),
  )
  await measure(`by meaning over ${ENTRIES}, hit (embedding stubbed)`, 2000, (i) =>
    hit(semantic, question(i % ENTRIES).toUpperCase()),
  )
  await plugin.cleanup!()
  await store.close()
  await rm(appDir, { recursive: true, force: true })
}

async function hitLatency(): Promise<void> {
  const chat = await startFakeOpenAI()
  const embed = await startFakeBagOfWordsEmbeddings()
  const gw = await startHeimdall(cacheConfig(chat.url, embed.url))
  const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  const ask = (headers: Record<string, string>) =>
    openai.chat.completions.create(
      { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'How far is the moon?' }] },
      { headers },
    )
  const cached = { 'x-bf-cache-key': 'latency', 'x-bf-cache-type': 'direct' }
  await ask(cached)
  await new Promise((r) => setTimeout(r, 200))
  const series = async (name: string, headers: Record<string, string>, expectHit: boolean) => {
    const ms: number[] = []
    for (let i = 0; i < 1000; i++) {
      const t0 = process.hrtime.bigint()
      const r = await ask(headers)
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6)
      if (Boolean(debugOf(r)?.cache_hit) !== expectHit) throw new Error(`${name}: unexpected cache_debug`)
    }
    ms.sort((a, b) => a - b)
    const p = (q: number) => ms[Math.floor(q * (ms.length - 1))].toFixed(3)
    console.log(`${name.padEnd(46)} p50 ${p(0.5)} ms  p99 ${p(0.99)} ms  (1000 sequential, SDK to SDK)`)
  }
  await series('HTTP: exact hit', cached, true)
  await series('HTTP: no cache key (fake OpenAI answers)', {}, false)
  await gw.close()
  await chat.close()
  await embed.close()
}

await lookups()
await hitLatency()
