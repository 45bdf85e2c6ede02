// `node --import tsx bench/log-event-loop.ts`: how long writing request logs holds up the event loop.
// In this process, the log queue and SQLite store of one or more builds (BENCH_LOG_BUILDS: dist
// directories, comma-separated; default ./dist) are fed finished requests (the benchmark's chat
// request and answer, bodies on, as bench/log-entries.ts makes them: each a little different) at BENCH_RATE (1,000) per second for BENCH_SECONDS (10) s each,
// with the gateway's defaults (batches of up to 500, flushed every 200 ms), the builds taking turns
// for BENCH_ROUNDS (3) rounds. Nothing else runs on the loop, so its delay (monitorEventLoopDelay,
// 1 ms resolution) is what logging adds; CPU is this process's (every thread) per entry. The build
// `none` is the floor: the first build's queue, entries turned into rows, a store that writes nothing
// (what this harness and the queue cost without a database).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { benchPendingLog, mainThreadCpu } from './log-entries.js'

const repoRoot = dirname(dirname(fileURLToPath(import.meta.url)))
const BUILDS = (process.env.BENCH_LOG_BUILDS ?? join(repoRoot, 'dist')).split(',').map((d) => resolve(d))
const RATE = Number(process.env.BENCH_RATE ?? 1000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

interface LogsModule {
  LogStore: {
    open(
      spec: { type: 'sqlite' },
      appDir: string,
    ): Promise<{ insert(rows: unknown[]): Promise<void>; close(): Promise<void> }>
  }
  LogQueue: new (opts: {
    maxSize: number
    batchSize: number
    flushIntervalMs: number
    write(rows: unknown[]): Promise<void>
    onWriteError(err: unknown): void
  }) => {
    push(entry: unknown): boolean
    flush(): Promise<void>
    stop(): void
    dropped: number
    written: number
  }
}

async function round(dist: string) {
  const none = dist.endsWith('/none')
  const code = none ? BUILDS.find((b) => !b.endsWith('/none')) : dist
  if (!code) throw new Error('BENCH_LOG_BUILDS: `none` needs a build beside it, for its queue')
  const logs = (await import(
    pathToFileURL(join(code, 'observability', 'logs', 'index.js')).href
  )) as LogsModule
  const appDir = await mkdtemp(join(tmpdir(), 'heimdall-bench-log-loop-'))
  const store = none
    ? { insert: () => Promise.resolve(), close: () => Promise.resolve() }
    : await logs.LogStore.open({ type: 'sqlite' }, appDir)
  const queue = new logs.LogQueue({
    maxSize: 10_000,
    batchSize: 500,
    flushIntervalMs: 200,
    write: (rows) => store.insert(rows),
    onWriteError: (err) => console.error(err),
  })
  const delay = monitorEventLoopDelay({ resolution: 1 })
  const cpu = process.cpuUsage()
  const mainCpu = mainThreadCpu()
  delay.enable()
  const total = RATE * SECONDS
  let sent = 0
  const started = performance.now()
  // Entries arrive at the rate, as requests end: a few every millisecond, never in one burst.
  await new Promise<void>((done) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE))
      while (sent < due) queue.push(benchPendingLog(sent++))
      if (sent >= total) {
        clearInterval(tick)
        done()
      }
    }, 1)
  })
  await queue.flush()
  delay.disable()
  const used = process.cpuUsage(cpu)
  const usedOnMain = mainThreadCpu() - mainCpu
  queue.stop()
  await store.close()
  await rm(appDir, { recursive: true, force: true })
  return {
    p99: delay.percentile(99) / 1e6,
    max: delay.max / 1e6,
    cpu: (used.user + used.system) / total,
    mainCpu: usedOnMain / total,
    written: queue.written,
  }
}

const results = new Map<string, { p99: number; max: number; cpu: number; mainCpu: number }[]>()
for (let r = 0; r < ROUNDS; r++) {
  for (const dist of BUILDS) {
    const m = await round(dist)
    results.set(dist, [...(results.get(dist) ?? []), m])
    process.stderr.write(
      `${dist} round ${r + 1}: loop p99 ${m.p99.toFixed(2)} ms, max ${m.max.toFixed(1)} ms, ${m.cpu.toFixed(0)} µs/entry (${m.mainCpu.toFixed(0)} on the main thread), ${m.written} written\n`,
    )
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
console.log(
  [
    `| build | event-loop delay p99 ms (rounds) | max ms (rounds) | CPU µs per entry | of it on the main thread |`,
    '|---|---|---|---|---|',
    ...[...results].map(
      ([dist, ms]) =>
        `| \`${dist}\` | ${median(ms.map((m) => m.p99)).toFixed(2)} (${ms.map((m) => m.p99.toFixed(2)).join(', ')}) | ` +
        `${median(ms.map((m) => m.max)).toFixed(1)} (${ms.map((m) => m.max.toFixed(1)).join(', ')}) | ${median(ms.map((m) => m.cpu)).toFixed(0)} | ${median(ms.map((m) => m.mainCpu)).toFixed(0)} |`,
    ),
  ].join('\n'),
)
