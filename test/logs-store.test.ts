import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LogQueue, LogStore, type LogRow } from '../src/observability/logs/index.js'
import { backends } from './helpers/databases.js'

const DAY = 86_400_000

function row(id: string, ts: number, extra: Partial<LogRow> = {}): LogRow {
  return {
    id,
    ts,
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
    latency: 100,
    ttft: null,
    prompt_tokens: 10,
    completion_tokens: 5,
    total_tokens: 15,
    cached_tokens: 0,
    reasoning_tokens: 0,
    cost: 0.001,
    cost_estimated: 0,
    error: null,
    attempts: null,
    input: '{"messages":[{"role":"user","content":"hi"}]}',
    output: '{"role":"assistant","content":"hello"}',
    content_summary: 'hi hello',
    ...extra,
  }
}

const page = { limit: 100, offset: 0, sort_by: 'timestamp', order: 'asc' } as const

describe.each(backends('logs-store'))('log store on $kind', (backend) => {
  it('retention removes entries past log_retention_days and bodies past content_retention_days', async () => {
    const store = await LogStore.open(await backend.fresh(), await mkdtemp(join(tmpdir(), 'logs-')))
    try {
      const now = Date.now()
      const attempts =
        '[{"provider":"openai","model":"gpt-4o-mini","key_id":"k1","fallback_index":0,"latency":87}]'
      await store.insert([
        row('old', now - 40 * DAY),
        row('mid', now - 10 * DAY, { attempts }),
        row('new', now - 60_000),
      ])
      expect((await store.search({}, page)).total).toBe(3)
      await store.enforceRetention(now, 30, 7)
      const { rows } = await store.search({}, page)
      expect(rows.map((r) => r.id)).toEqual(['mid', 'new'])
      // Only the bodies go: the attempt trail stays.
      expect(rows[0]).toMatchObject({
        input: null,
        output: null,
        content_summary: null,
        total_tokens: 15,
        attempts,
      })
      expect(rows[1].input).toContain('hi')
      // The answer of an entry whose bodies expired is not found by a content search either.
      expect((await store.search({ content_search: 'hello' }, page)).rows.map((r) => r.id)).toEqual(['new'])
      if (backend.kind === 'postgres') {
        // The old day's partition is gone, not emptied row by row.
        const { sql } = await import('kysely')
        const day = new Date(now - 40 * DAY).toISOString().slice(0, 10).replace(/-/g, '')
        const found = await sql<{
          n: number
        }>`select count(*)::int as n from pg_class where relname = ${`logs_p${day}`}`.execute(store.db)
        expect(found.rows[0].n).toBe(0)
      }
    } finally {
      await store.close()
    }
  })
})

describe('log queue', () => {
  it('a full queue drops and counts new entries instead of waiting for a stuck database', async () => {
    let release: () => void = () => undefined
    const writes: number[] = []
    const queue = new LogQueue({
      maxSize: 5,
      batchSize: 2,
      flushIntervalMs: 1,
      write: (rows) => {
        writes.push(rows.length)
        return new Promise<void>((resolve) => (release = resolve))
      },
      onWriteError: () => undefined,
    })
    const started = performance.now()
    const accepted = Array.from({ length: 12 }, (_, i) => queue.push({ row: row(`r${i}`, Date.now()) }))
    // Pushing never waits on the writer.
    expect(performance.now() - started).toBeLessThan(50)
    expect(accepted.filter(Boolean)).toHaveLength(5)
    expect(queue.dropped).toBe(7)
    expect(queue.depth).toBe(5)
    // The database comes back: everything accepted is written, in batches.
    const flushed = queue.flush()
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 5))
      release()
    }
    await flushed
    expect(queue.written).toBe(5)
    expect(writes.reduce((a, b) => a + b, 0)).toBe(5)
    expect(queue.depth).toBe(0)
  })

  it('a failing database loses the batch, counts it, and never throws to the caller', async () => {
    const errors: number[] = []
    const queue = new LogQueue({
      maxSize: 10,
      batchSize: 10,
      flushIntervalMs: 1,
      write: () => Promise.reject(new Error('connection refused')),
      onWriteError: (_err, n) => errors.push(n),
    })
    expect(queue.push({ row: row('a', Date.now()) })).toBe(true)
    await queue.flush()
    expect(queue.failed).toBe(1)
    expect(errors).toEqual([1])
  })
})

describe('a log database made by an older version', () => {
  it('gains the columns added since, keeps its entries, and sheds the indexes every insert paid for', async () => {
    const appDir = await mkdtemp(join(tmpdir(), 'logs-old-'))
    const { default: Database } = await import('better-sqlite3')
    const old = new Database(join(appDir, 'logs.db'))
    old.exec(
      `create table logs (id varchar(255) not null primary key, ts bigint not null, object varchar(64) not null, route varchar(255), provider varchar(255) not null, model varchar(255) not null, status varchar(16) not null, stream integer not null default 0, fallback_index integer not null default 0, number_of_retries integer not null default 0, selected_key_id varchar(255), virtual_key_id varchar(255), virtual_key_name varchar(255), team_id varchar(255), team_name varchar(255), customer_id varchar(255), customer_name varchar(255), latency double precision not null default 0, ttft double precision, prompt_tokens integer not null default 0, completion_tokens integer not null default 0, total_tokens integer not null default 0, cached_tokens integer not null default 0, reasoning_tokens integer not null default 0, cost double precision, cost_estimated integer not null default 0, error text, attempts text, input text, output text, content_summary text)`,
    )
    for (const col of ['ts', 'provider', 'model', 'status', 'virtual_key_id', 'team_id', 'customer_id'])
      old.exec(`create index logs_${col}_idx on logs (${col})`)
    old
      .prepare(
        `insert into logs (id, ts, object, provider, model, status) values ('old', 1, 'chat_completion', 'openai', 'gpt-4o', 'success')`,
      )
      .run()
    old.close()
    const store = await LogStore.open({ type: 'sqlite' }, appDir)
    try {
      await store.insert([row('new', 2, { selected_key_name: 'primary' })])
      const { rows } = await store.search({}, { limit: 10, offset: 0, sort_by: 'timestamp', order: 'asc' })
      expect(rows.map((r) => [r.id, r.selected_key_name])).toEqual([
        ['old', null],
        ['new', 'primary'],
      ])
      const errors = await store.search(
        { status: ['error'] },
        { limit: 10, offset: 0, sort_by: 'timestamp', order: 'asc' },
      )
      expect(errors.rows).toEqual([])
    } finally {
      await store.close()
    }
    const reopened = new Database(join(appDir, 'logs.db'))
    const indexes = reopened
      .prepare(
        `select name from sqlite_master where type = 'index' and tbl_name = 'logs' and sql is not null`,
      )
      .all()
      .map((r) => (r as { name: string }).name)
      .sort()
    reopened.close()
    expect(indexes).toEqual([
      'logs_customer_id_set_idx',
      'logs_errors_idx',
      'logs_model_idx',
      'logs_routing_rule_id_set_idx',
      'logs_team_id_set_idx',
      'logs_ts_idx',
      'logs_virtual_key_id_set_idx',
    ])
  })
})
