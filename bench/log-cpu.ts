// `node --import tsx bench/log-cpu.ts`: CPU per request-log entry, main thread and whole process
// (every thread: the writer thread's deflating and inserts included), in one process with nothing
// else running. BENCH_LOG_ENTRIES (20,000) finished chat requests (bodies on, each a little
// different) go through the log queue and the SQLite store of src/ in batches of 500, after a
// warm-up batch (the writer thread's start is not counted); the floor is the same queue with a
// store that writes nothing. BENCH_ROUNDS (3) rounds, medians. CPU time, unlike wall time, is
// little distorted by other processes on the machine. Also prints the store's bytes per entry.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LogQueue, LogStore } from '../src/observability/logs/index.js'
import { benchPendingLog, mainThreadCpu } from './log-entries.js'

const ENTRIES = Number(process.env.BENCH_LOG_ENTRIES ?? 20_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const BATCH = 500

/** CPU µs of every thread of this process, by thread id and name (BENCH_THREADS=1 prints them). */
function threadsCpu(): Map<string, number> {
  const all = new Map<string, number>()
  for (const tid of readdirSync('/proc/self/task'))
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      all.set(`${tid} ${name}`, (Number(fields[11]) + Number(fields[12])) * 10_000)
    } catch {
      // the thread ended
    }
  return all
}

function processCpu(): number {
  const used = process.cpuUsage()
  return used.user + used.system
}

type Store = { insert(rows: never[]): Promise<void>; close(): Promise<void> }

async function feed(store: Store, from: number, count: number): Promise<void> {
  const queue = new LogQueue({
    maxSize: 10_000,
    batchSize: BATCH,
    flushIntervalMs: 200,
    write: (rows) => store.insert(rows as never[]),
    onWriteError: (err) => console.error(err),
  })
  for (let n = from; n < from + count; n += BATCH) {
    for (let i = n; i < Math.min(from + count, n + BATCH); i++) queue.push(benchPendingLog(i))
    await queue.flush()
  }
  queue.stop()
}

async function round(kind: 'floor' | 'sqlite') {
  const appDir = await mkdtemp(join(tmpdir(), 'heimdall-bench-log-cpu-'))
  const store: Store =
    kind === 'floor'
      ? { insert: () => Promise.resolve(), close: () => Promise.resolve() }
      : ((await LogStore.open({ type: 'sqlite' }, appDir)) as unknown as Store)
  await feed(store, 1_000_000, BATCH) // warm-up: the writer thread started, the code compiled
  const size = () => {
    let bytes = 0
    for (const f of ['logs.db', 'logs.db-wal'])
      try {
        bytes += statSync(join(appDir, f)).size
      } catch {
        // no such file
      }
    return bytes
  }
  const threads = threadsCpu()
  const cpu = processCpu()
  const main = mainThreadCpu()
  await feed(store, 0, ENTRIES)
  const used = processCpu() - cpu
  const usedOnMain = mainThreadCpu() - main
  if (process.env.BENCH_THREADS)
    for (const [thread, after] of threadsCpu()) {
      const perEntry = (after - (threads.get(thread) ?? 0)) / ENTRIES
      if (perEntry >= 0.5)
        process.stderr.write(`  ${kind} thread ${thread}: ${perEntry.toFixed(1)} µs/entry\n`)
    }
  await store.close()
  const bytes = size() / (ENTRIES + BATCH)
  await rm(appDir, { recursive: true, force: true })
  return { cpu: used / ENTRIES, main: usedOnMain / ENTRIES, bytes }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const results: Record<string, { cpu: number; main: number; bytes: number }[]> = { floor: [], sqlite: [] }
for (let r = 0; r < ROUNDS; r++)
  for (const kind of ['floor', 'sqlite'] as const) {
    const m = await round(kind)
    results[kind].push(m)
    process.stderr.write(
      `${kind} round ${r + 1}: ${m.cpu.toFixed(1)} µs/entry (${m.main.toFixed(1)} on the main thread), ${m.bytes.toFixed(0)} B/entry\n`,
    )
  }
console.log('| store | CPU µs per entry (rounds) | of it on the main thread | bytes per entry |')
console.log('|---|---|---|---|')
for (const [kind, ms] of Object.entries(results))
  console.log(
    `| ${kind} | ${median(ms.map((m) => m.cpu)).toFixed(1)} (${ms.map((m) => m.cpu.toFixed(1)).join(', ')}) | ` +
      `${median(ms.map((m) => m.main)).toFixed(1)} | ${kind === 'floor' ? '—' : median(ms.map((m) => m.bytes)).toFixed(0)} |`,
  )
