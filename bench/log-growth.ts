// `node --import tsx bench/log-growth.ts`: how big a logged request is on disk, and whether
// throughput holds as the SQLite log store grows. One Heimdall (from dist/, or BENCH_HEIMDALL_CLI),
// request logging with bodies on (the default), in front of the fake upstream, 50 connections.
//
// 1. Bytes per request: BENCH_BYTES_REQUESTS (10,000) non-streamed and as many streamed requests
//    into an empty store; the growth of logs.db (after the gateway stopped, WAL checkpointed)
//    divided by the entries stored.
// 2. Growth: for each size in BENCH_STEPS (0, 250k, 500k, 1M rows), the gateway is stopped, the
//    store filled to that size by copying its own rows in SQL (new ids, times spread over the past
//    day: as a day of traffic would have left them, without sending a million requests), the
//    gateway started again and loaded at saturation for BENCH_ROUNDS windows of BENCH_SECONDS s.
//    Req/s and CPU µs per request are the medians of the windows.
// Prints markdown tables to paste into RESULTS.md. Loopback only, bounded by the settings above.
import Database from 'better-sqlite3'
import { mkdirSync, statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { LogStore, type LogRow } from '../src/observability/logs/index.js'
import { cpuMicroseconds } from './cpu.js'
import { type Mode } from './load.js'
import {
  benchDir,
  chatLoad,
  median,
  outDir,
  repoRoot,
  startGateway as start,
  writeGatewayConfig,
  type Gateway,
} from './log-gateway.js'
import { stopAllChildren, stopChild } from './processes.js'
import { startFakeUpstream } from './targets.js'

const CLI = process.env.BENCH_HEIMDALL_CLI ?? join(repoRoot, 'dist', 'cli.js')
const BYTES_REQUESTS = Number(process.env.BENCH_BYTES_REQUESTS ?? 10_000)
const STEPS = (process.env.BENCH_STEPS ?? '0,250000,500000,1000000').split(',').map(Number)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const MODE: Mode = process.env.BENCH_MODE === 'streaming' ? 'streaming' : 'non-streaming'
const DAY_MS = 86_400_000

const startGateway = (appDir: string) => start({ name: 'heimdall-log-growth', appDir, cli: CLI })
const load = (origin: string, mode: Mode, opts: { seconds?: number; amount?: number }) =>
  chatLoad(origin, mode, { ...opts, connections: CONNECTIONS })

/** logs.db and its WAL, in bytes. */
function storeBytes(appDir: string): number {
  const size = (name: string) => {
    try {
      return statSync(join(appDir, name)).size
    } catch {
      return 0
    }
  }
  return size('logs.db') + size('logs.db-wal')
}

function countRows(appDir: string): number {
  const db = new Database(join(appDir, 'logs.db'), { readonly: true })
  try {
    return (db.prepare('select count(*) n from logs').get() as { n: number }).n
  } finally {
    db.close()
  }
}

/** Copies the store's own rows (new ids, times spread over the past day) until it holds `target`. */
function fillTo(appDir: string, target: number): void {
  const db = new Database(join(appDir, 'logs.db'))
  try {
    db.pragma('journal_mode = WAL')
    const columns = (
      db.prepare(`select name from pragma_table_info('logs')`).all() as { name: string }[]
    ).map((c) => c.name)
    const now = Date.now()
    // Each copy a request of the past day: a time in it, and a UUIDv7 of that time as its id (the
    // gateway's ids sort by time, so that new entries are added at the end of the id index).
    const select = columns.map((c) => {
      if (c === 'id')
        return `printf('%08x-%04x-7%03x-%04x-%012x', t >> 16, t & 65535, abs(random()) % 4096, 32768 + abs(random()) % 16384, abs(random()) % 281474976710656)`
      if (c === 'ts') return 't'
      return c
    })
    const copy = db.prepare(
      `insert or ignore into logs (${columns.join(', ')}) select ${select.join(', ')} from ` +
        `(select *, ${now} - abs(random()) % ${DAY_MS} as t from logs order by rowid limit ?)`,
    )
    let rows = countRows(appDir)
    while (rows < target) {
      copy.run(Math.min(rows, target - rows))
      rows = (db.prepare('select count(*) n from logs').get() as { n: number }).n
    }
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
}

const WRITER_ROWS = Number(process.env.BENCH_WRITER_ROWS ?? 20_000)

/**
 * CPU µs per row of this build's log store (the gateway's thread and the writer thread together)
 * inserting WRITER_ROWS copies of the store's own rows in batches of 500, as the gateway would:
 * the cost that grows with the store, without the HTTP load's noise.
 */
async function writerCpuPerRow(appDir: string): Promise<number> {
  const store = await LogStore.open({ type: 'sqlite' }, appDir)
  try {
    const page = { limit: 500, offset: 0, sort_by: 'timestamp', order: 'desc' } as const
    const sample = (await store.search({}, page)).rows
    const batches: LogRow[][] = []
    for (let n = 0; n < WRITER_ROWS; n += sample.length)
      batches.push(sample.map((r, i) => ({ ...r, id: `w${n + i}-${Date.now()}`, ts: Date.now() })))
    const before = process.cpuUsage()
    for (const batch of batches) await store.insert(batch)
    const used = process.cpuUsage(before)
    return (used.user + used.system) / (batches.length * sample.length)
  } finally {
    await store.close()
  }
}

async function main() {
  mkdirSync(outDir, { recursive: true })
  const upstream = await startFakeUpstream({ repoRoot, benchDir, outDir })
  const appDir = await mkdtemp(join(tmpdir(), 'heimdall-bench-log-growth-'))
  const lines: string[] = []
  let gw: Gateway | undefined
  try {
    await writeGatewayConfig(
      appDir,
      { enable_logging: true, disable_content_logging: false },
      upstream.origin,
    )
    gw = await startGateway(appDir)
    await stopChild(gw.child)
    const empty = storeBytes(appDir)
    gw = await startGateway(appDir)
    for (const mode of ['non-streaming', 'streaming'] as const)
      await load(gw.origin, mode, { amount: BYTES_REQUESTS })
    await stopChild(gw.child)
    gw = undefined
    const stored = countRows(appDir)
    const perRequest = (storeBytes(appDir) - empty) / stored
    process.stderr.write(`bytes: ${stored} entries, ${perRequest.toFixed(0)} B each\n`)
    lines.push(
      `- build: \`${CLI}\``,
      `- bytes per logged request: ${perRequest.toFixed(0)} B (${stored} entries, half streamed, logs.db grew by ${((storeBytes(appDir) - empty) / 1024 / 1024).toFixed(1)} MiB)`,
      '',
      `| rows in the store | req/s (${MODE}, median of ${ROUNDS} × ${SECONDS} s) | vs empty | CPU µs/request | store CPU µs/row | logs.db MiB |`,
      '|---|---|---|---|---|---|',
    )
    let first: number | undefined
    for (const step of STEPS) {
      fillTo(appDir, step)
      const rowsAtStart = countRows(appDir)
      const storeCpu = await writerCpuPerRow(appDir)
      gw = await startGateway(appDir)
      await load(gw.origin, MODE, { seconds: 2 })
      const rates: number[] = []
      const cpus: number[] = []
      for (let round = 0; round < ROUNDS; round++) {
        const before = cpuMicroseconds(gw.child.pid)
        const r = await load(gw.origin, MODE, { seconds: SECONDS })
        // The writer's last batch (flushed every 200 ms) is charged to this window.
        await sleep(400)
        rates.push(r.completed / SECONDS)
        cpus.push((cpuMicroseconds(gw.child.pid) - before) / r.completed)
        process.stderr.write(
          `${rowsAtStart} rows, round ${round + 1}: ${(r.completed / SECONDS).toFixed(0)} req/s\n`,
        )
      }
      await stopChild(gw.child)
      gw = undefined
      const rate = median(rates)
      first ??= rate
      lines.push(
        `| ${rowsAtStart.toLocaleString('en')} | ${rate.toFixed(0)} (${rates.map((x) => x.toFixed(0)).join(', ')}) | ` +
          `${(((rate - first) / first) * 100).toFixed(1)} % | ${median(cpus).toFixed(0)} | ${storeCpu.toFixed(0)} | ` +
          `${(storeBytes(appDir) / 1024 / 1024).toFixed(0)} |`,
      )
    }
  } finally {
    if (gw) await stopChild(gw.child)
    await stopAllChildren()
    await rm(appDir, { recursive: true, force: true })
  }
  console.log(lines.join('\n'))
}

await main()
