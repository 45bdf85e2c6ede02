// Memory over many requests: one governed Heimdall (a virtual key with a budget and a rate limit,
// every request logged with its bodies) driven through N requests, half JSON and half streamed, in
// slices of BENCH_MEMORY_EVERY; after each slice the process's RSS, the V8 heap it reports on
// /metrics and the size of its logs.db are sampled, and the series is printed as a markdown table.
//   node --import tsx bench/memory.ts                  (1,000,000 requests, sampled every 100,000)
//   BENCH_MEMORY_REQUESTS=300000 node --import tsx bench/memory.ts
// Settings: BENCH_MEMORY_REQUESTS (1000000), BENCH_MEMORY_EVERY (100000), BENCH_CONNECTIONS (50),
// BENCH_HEIMDALL_CLI (dist/cli.js). Bounded: it stops itself after BENCH_MEMORY_MAX_MINUTES (60).
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { CHAT_PATH, requestBody, verifyAnswer, type Mode } from './load.js'
import { killAllChildrenNow, stopAllChildren, stopChild } from './processes.js'
import { startFakeUpstream, TARGETS, type BenchContext, type StartedTarget } from './targets.js'

const benchDir = dirname(fileURLToPath(import.meta.url))
const repoRoot = dirname(benchDir)

function setting(name: string, fallback: number): number {
  const raw = process.env[name]
  const value = raw === undefined || raw === '' ? fallback : Number(raw)
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got "${raw}"`)
  return value
}

const TOTAL = setting('BENCH_MEMORY_REQUESTS', 1_000_000)
const EVERY = setting('BENCH_MEMORY_EVERY', 100_000)
const CONNECTIONS = setting('BENCH_CONNECTIONS', 50)
const MAX_MINUTES = setting('BENCH_MEMORY_MAX_MINUTES', 60)

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

function rssMiB(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
  return kb / 1024
}

/** logs.db and its WAL, in MiB. */
function logStoreMiB(appDir: string | undefined): number {
  if (!appDir) return NaN
  const bytes = readdirSync(appDir)
    .filter((file) => file.startsWith('logs.db'))
    .reduce((sum, file) => sum + statSync(join(appDir, file)).size, 0)
  return bytes / 1024 / 1024
}

/** V8's heap in use, from Heimdall's /metrics (prom-client's nodejs_heap_size_used_bytes). */
async function heapUsedMiB(metricsUrl: string | undefined): Promise<number> {
  if (!metricsUrl) return NaN
  try {
    const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) })).text()
    const value = /^nodejs_heap_size_used_bytes\s+([0-9.eE+-]+)$/m.exec(text)?.[1]
    return value === undefined ? NaN : Number(value) / 1024 / 1024
  } catch {
    return NaN
  }
}

interface Slice {
  done: number
  seconds: number
  failed: number
  rssMiB: number
  heapMiB: number
  logsMiB: number
}

/** `amount` requests of one mode, closed loop. */
async function drive(target: StartedTarget, mode: Mode, amount: number, connections: number) {
  return await autocannon({
    url: target.load.origin + CHAT_PATH,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.load.headers },
    body: requestBody(mode),
    connections,
    pipelining: 1,
    amount,
    timeout: 10,
  })
}

function table(slices: Slice[]): string {
  const rows = slices.map(
    (s) =>
      `| ${s.done.toLocaleString('en-US')} | ${s.rssMiB.toFixed(0)} | ${s.heapMiB.toFixed(0)} | ` +
      `${s.logsMiB.toFixed(0)} | ${s.seconds.toFixed(0)} | ${s.failed} |`,
  )
  return [
    '| requests | RSS MiB | V8 heap used MiB | logs.db MiB | seconds for the slice | failed |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n')
}

async function main(): Promise<void> {
  setTimeout(() => {
    log(`memory: exceeded ${MAX_MINUTES} minutes, stopping`)
    void stopAllChildren().finally(() => process.exit(1))
  }, MAX_MINUTES * 60_000).unref()
  const outDir = join(benchDir, 'out')
  const upstream = await startFakeUpstream({ repoRoot, benchDir, outDir })
  const ctx: BenchContext = {
    repoRoot,
    benchDir,
    outDir,
    upstream: { origin: upstream.origin, pid: upstream.child.pid },
    profileHeimdall: false,
  }
  const definition = TARGETS.find((t) => t.name === 'heimdall-governed')
  const reason = definition?.unavailableBecause(ctx)
  if (!definition || reason) throw new Error(`heimdall-governed cannot run: ${reason}`)
  const target = await definition.start(ctx)
  try {
    for (const mode of ['non-streaming', 'streaming'] as const) {
      const check = await verifyAnswer(target.load, mode)
      if (check.status !== 200 || check.problem) throw new Error(`${mode} answer: ${check.problem}`)
    }
    const pid = target.load.cpuPid
    const slices: Slice[] = [
      {
        done: 0,
        seconds: 0,
        failed: 0,
        rssMiB: rssMiB(pid),
        heapMiB: await heapUsedMiB(target.load.metricsUrl),
        logsMiB: logStoreMiB(target.appDir),
      },
    ]
    log(
      `memory: ${TOTAL} requests (half streamed), sampled every ${EVERY}; start RSS ${slices[0].rssMiB.toFixed(0)} MiB`,
    )
    for (let done = 0; done < TOTAL;) {
      const amount = Math.min(EVERY, TOTAL - done)
      const half = Math.floor(amount / 2)
      const startedAt = performance.now()
      // JSON and streamed requests at once, each on half the connections.
      const results = await Promise.all([
        drive(target, 'non-streaming', amount - half, Math.ceil(CONNECTIONS / 2)),
        drive(target, 'streaming', half, Math.floor(CONNECTIONS / 2)),
      ])
      done += amount
      const slice: Slice = {
        done,
        seconds: (performance.now() - startedAt) / 1000,
        failed: results.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0),
        rssMiB: rssMiB(pid),
        heapMiB: await heapUsedMiB(target.load.metricsUrl),
        logsMiB: logStoreMiB(target.appDir),
      }
      slices.push(slice)
      log(
        `memory: ${done} requests, RSS ${slice.rssMiB.toFixed(0)} MiB, heap ${slice.heapMiB.toFixed(0)} MiB, ` +
          `logs.db ${slice.logsMiB.toFixed(0)} MiB, ${slice.seconds.toFixed(0)} s, ${slice.failed} failed`,
      )
    }
    process.stdout.write(
      [
        `# Memory over ${TOTAL.toLocaleString('en-US')} governed, logged requests (bench/memory.ts)`,
        '',
        `- date: ${new Date().toISOString()}, ${CONNECTIONS} connections, half JSON and half streamed`,
        '',
        table(slices),
        '',
      ].join('\n'),
    )
  } finally {
    await target.stop()
    await stopChild(upstream.child)
  }
}

process.once('exit', killAllChildrenNow)
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void stopAllChildren().finally(() => process.exit(130)))

main().catch(async (err: Error) => {
  log(`memory: ${err.stack ?? err.message}`)
  await stopAllChildren()
  process.exitCode = 1
})
