import Database from 'better-sqlite3'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { LogStore, type LogRow } from '../src/observability/logs/index.js'
import { packText, trainDictionary } from '../src/observability/logs/content-codec.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall } from './helpers/heimdall.js'

const dirs: string[] = []
let fake: FakeServer | undefined
afterAll(async () => {
  await fake?.close()
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

async function appDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'logs-thread-'))
  dirs.push(dir)
  return dir
}

const page = { limit: 10, offset: 0, sort_by: 'timestamp', order: 'asc' } as const

function row(id: string, n: number): LogRow {
  const words = Array.from({ length: 40 }, (_, i) => `word${(i * 7 + n) % 97}`).join(' ')
  return {
    id,
    ts: 1_700_000_000_000 + n,
    object: 'chat_completion',
    route: '/v1/chat/completions',
    provider: 'openai',
    model: 'gpt-4o-mini',
    status: 'success',
    stream: 0,
    fallback_index: 0,
    number_of_retries: 0,
    selected_key_id: 'k1',
    selected_key_name: 'primary',
    virtual_key_id: null,
    virtual_key_name: null,
    team_id: null,
    team_name: null,
    customer_id: null,
    customer_name: null,
    latency: 12,
    ttft: null,
    prompt_tokens: 10,
    completion_tokens: 40,
    total_tokens: 50,
    cached_tokens: 0,
    reasoning_tokens: 0,
    cost: 0.0001,
    cost_estimated: 0,
    error: null,
    attempts: `[{"provider":"openai","model":"gpt-4o-mini","key_id":"k1","fallback_index":0,"latency":${n % 50}}]`,
    input: `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Tell me about request ${n}"}]}`,
    output: `{"id":"chatcmpl-${n}","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"${words} Zebra-${n}"},"finish_reason":"stop"}]}`,
    content_summary: `Tell me about request ${n}`,
  }
}

/** Counts the event loop's turns until stopped: none while this thread is busy with synchronous work. */
function countTurns(): { stop(): number } {
  let turns = 0
  let free = true
  const spin = () => {
    turns++
    if (free) setImmediate(spin)
  }
  setImmediate(spin)
  return {
    stop: () => {
      free = false
      return turns
    },
  }
}

describe('request logs in a SQLite file', () => {
  it('are written by another thread, stored deflated, and read back and searched as they were written', async () => {
    const dir = await appDir()
    const store = await LogStore.open({ type: 'sqlite' }, dir)
    const rows = Array.from({ length: 3000 }, (_, i) => row(`r${i}`, i))
    const [early, expected] = [structuredClone(rows[10]), structuredClone(rows[1234])]
    const loop = countTurns()
    try {
      // The first rows are packed with the built-in dictionary, later ones with one trained on them.
      await store.insert(rows.slice(0, 500))
      await store.insert(rows.slice(500))
      // Written on this thread, the batch would finish before the event loop turned once.
      expect(loop.stop()).toBeGreaterThan(0)

      expect(await store.get('r10')).toMatchObject(early)
      expect(await store.get('r1234')).toMatchObject(expected)
      const found = await store.search({ content_search: 'ZEBRA-2999' }, page)
      expect(found.rows.map((r) => r.id)).toEqual(['r2999'])
      expect((await store.search({ content_search: 'about request 17' }, page)).total).toBe(111)
    } finally {
      await store.close()
    }

    const raw = new Database(join(dir, 'logs.db'), { readonly: true })
    const stored = raw
      .prepare(
        `select typeof(input) ti, typeof(output) t, typeof(content_packed) tp, length(content_packed) n,
           typeof(content_summary) ts, answer_text a from logs where id = 'r1234'`,
      )
      .get() as { ti: string; t: string; tp: string; n: number; ts: string; a: string }
    const formats = raw
      .prepare(
        `select id, hex(substr(content_packed, 1, 1)) f from logs where id in ('r10', 'r1234') order by id`,
      )
      .all()
    raw.close()
    expect(formats).toEqual([
      { id: 'r10', f: '01' },
      { id: 'r1234', f: '02' },
    ])
    // The request, the answer and the attempts are one deflated BLOB, well under their length;
    // the prompts and the answer's words, which a search reads, stay plain text.
    expect(stored).toMatchObject({ ti: 'null', t: 'null', tp: 'blob', ts: 'text' })
    const texts = expected.input!.length + expected.output!.length + expected.attempts!.length
    expect(stored.n).toBeLessThan(texts / 2)
    expect(stored.a).toBe(`${rows[1234].output!.match(/"content":"([^"]+)"/)![1]}`)
  })

  it('runs retention on the writer thread, while the gateway goes on serving', async () => {
    const dir = await appDir()
    const store = await LogStore.open({ type: 'sqlite' }, dir)
    try {
      const now = 1_700_000_000_000 + 40 * 86_400_000
      await store.insert(Array.from({ length: 3000 }, (_, i) => row(`r${i}`, i)))
      // Packed with the dictionary trained on the batch before; its bodies expire, its attempts stay.
      const mid = { ...row('mid', 7), ts: now - 10 * 86_400_000 }
      await store.insert([{ ...row('recent', 5), ts: now - 60_000 }, structuredClone(mid)])
      const loop = countTurns()
      await store.enforceRetention(now, 30, 7)
      // Run on this thread, the deletes would finish before the event loop turned once.
      expect(loop.stop()).toBeGreaterThan(0)
      const kept = (await store.search({}, page)).rows
      expect(kept.map((r) => r.id)).toEqual(['mid', 'recent'])
      expect(kept[0]).toMatchObject({ attempts: mid.attempts, input: null, output: null })
      expect(await store.delete(['mid', 'recent', 'unknown'])).toBe(2)
      expect((await store.search({}, page)).total).toBe(0)
    } finally {
      await store.close()
    }
  })

  it('keeps entries older versions stored (each text deflated on its own, or plain) readable and searchable', async () => {
    const dir = await appDir()
    await (await LogStore.open({ type: 'sqlite' }, dir)).close()
    const old = new Database(join(dir, 'logs.db'))
    const insert = old.prepare(
      `insert into logs (id, ts, object, provider, model, status, attempts, input, output, content_summary) values (?, ?, 'chat_completion', 'openai', 'gpt-4o', 'success', ?, ?, ?, ?)`,
    )
    const r = row('packed-alone', 5)
    const summary = `${r.content_summary!} and a long enough prompt to be packed by itself, as before`
    // Packed with a dictionary trained on the database's rows, which a search must read first.
    const trained = trainDictionary([r.input!, r.output!])
    old
      .prepare('insert into log_dictionaries (id, created_at, dictionary) values (?, 1, ?)')
      .run(trained.id, trained.bytes)
    insert.run(r.id, r.ts, ...[r.attempts!, r.input!, r.output!, summary].map((t) => packText(t, trained)))
    const plain = ['{"messages":[{"role":"user","content":"plain prompt"}]}', '{"content":"an Okapi answer"}']
    insert.run('old', 1, null, ...plain, 'plain prompt')
    old.close()
    const store = await LogStore.open({ type: 'sqlite' }, dir)
    try {
      const found = async (text: string) =>
        (await store.search({ content_search: text }, page)).rows.map((x) => x.id)
      // Searched before any read has seen the dictionary.
      expect(await found('zebra-5')).toEqual(['packed-alone'])
      expect(await store.get('packed-alone')).toMatchObject({
        attempts: r.attempts,
        input: r.input,
        output: r.output,
      })
      expect(await store.get('old')).toMatchObject({ input: plain[0], output: plain[1] })
      expect(await found('packed by itself')).toEqual(['packed-alone'])
      expect(await found('okapi')).toEqual(['old'])
      expect(await found('plain prompt')).toEqual(['old'])
    } finally {
      await store.close()
    }
  })

  it('loses no accepted request when the gateway shuts down before its writer flushed', async () => {
    fake ??= await startFakeOpenAI()
    const dir = await appDir()
    const gw = await startHeimdall(
      {
        providers: { openai: fakeProvider(fake.url) },
        // Nothing is written by size or time before the gateway closes: close must write it all.
        logs_store: {
          enabled: true,
          type: 'sqlite',
          batch_size: 100_000,
          flush_interval_ms: 600_000,
        } as unknown as ConfigFile['logs_store'],
      },
      { appDir: dir },
    )
    const sent = 200
    let ok = 0
    for (let i = 0; i < sent; i += 30) {
      const batch = Array.from({ length: Math.min(30, sent - i) }, (_, j) =>
        fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'openai/gpt-4o-mini',
            messages: [{ role: 'user', content: `shutdown check ${i + j}` }],
          }),
        }).then(async (res) => {
          await res.arrayBuffer()
          if (res.status === 200) ok++
        }),
      )
      await Promise.all(batch)
    }
    expect(ok).toBe(sent)
    await gw.close()

    const store = await LogStore.open({ type: 'sqlite' }, dir)
    try {
      expect((await store.search({}, page)).total).toBe(sent)
      const hit = await store.search({ content_search: 'echo: shutdown check 199' }, page)
      expect(hit.rows).toHaveLength(1)
      expect(JSON.parse(hit.rows[0].input!)).toMatchObject({
        messages: [{ role: 'user', content: 'shutdown check 199' }],
      })
    } finally {
      await store.close()
    }
  })
})
