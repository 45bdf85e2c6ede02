// `node --import tsx bench/logging.ts`: what request logging costs. Three Heimdall processes (from
// dist/, so run `npm run build` first) run side by side in front of the fake upstream: logging off,
// on without bodies, and on with bodies stored (SQLite). In each of BENCH_ROUNDS rounds all three
// are loaded at once for BENCH_SECONDS s (the connections shared out), so that a machine whose speed
// drifts (a shared VM) charges every variant alike; BENCH_TOGETHER=0 loads them one after the other
// instead, the order rotating each round. Each variant's figure is the median of its rounds; "vs
// off" is the median of the per-round ratios. Then each gets BENCH_LOG_REQUESTS (100,000) more
// requests with RSS read after every quarter. Prints markdown tables to paste into RESULTS.md.
// BENCH_PROFILE=1 writes a CPU profile of each process to bench/out; BENCH_VARIANTS=off,bodies and
// BENCH_MODES=streaming narrow the run.
import { mkdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { cpuMicroseconds } from './cpu.js'
import { MODES, type Mode } from './load.js'
import {
  benchDir,
  chatLoad,
  median,
  outDir,
  repoRoot,
  startGateway,
  writeGatewayConfig,
} from './log-gateway.js'
import { stopAllChildren, stopChild, type RunningChild } from './processes.js'
import { startFakeUpstream } from './targets.js'

const REQUESTS = Number(process.env.BENCH_LOG_REQUESTS ?? 100_000)
const WINDOW_SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const PROFILE = process.env.BENCH_PROFILE === '1'
/** Load every variant at once (BENCH_TOGETHER=0: one after the other). */
const TOGETHER = process.env.BENCH_TOGETHER !== '0'
/** After a window, the writer's last batch (flushed every 200 ms) is still charged to its variant. */
const SETTLE_MS = 600

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))
  return Number(line?.split(/\s+/)[1] ?? NaN) / 1024
}

interface Variant {
  id: string
  name: string
  client: Record<string, unknown>
}

const ALL_VARIANTS: Variant[] = [
  { id: 'off', name: 'logging off (`client.enable_logging: false`)', client: { enable_logging: false } },
  {
    id: 'no-bodies',
    name: 'logging on, no bodies (`client.disable_content_logging: true`)',
    client: { enable_logging: true, disable_content_logging: true },
  },
  {
    id: 'bodies',
    name: 'logging on, bodies stored (the default)',
    client: { enable_logging: true, disable_content_logging: false },
  },
]

function pick<T>(all: readonly T[], env: string | undefined, key: (t: T) => string): T[] {
  if (!env) return [...all]
  const wanted = env.split(',')
  return all.filter((t) => wanted.includes(key(t)))
}
const VARIANTS = pick(ALL_VARIANTS, process.env.BENCH_VARIANTS, (v) => v.id)
const BENCH_MODES = pick(MODES, process.env.BENCH_MODES, (m) => m)

interface Server {
  variant: Variant
  origin: string
  child: RunningChild
  appDir: string
}

function run(origin: string, mode: Mode, opts: { seconds?: number; amount?: number; connections?: number }) {
  return chatLoad(origin, mode, { ...opts, connections: opts.connections ?? CONNECTIONS })
}

async function startServer(variant: Variant, upstreamOrigin: string): Promise<Server> {
  const appDir = await mkdtemp(join(tmpdir(), 'heimdall-bench-logs-'))
  await writeGatewayConfig(appDir, variant.client, upstreamOrigin)
  const { origin, child } = await startGateway({
    name: `heimdall-logging-${variant.id}`,
    appDir,
    nodeArgs: PROFILE ? ['--cpu-prof', '--cpu-prof-dir', outDir] : [],
  })
  return { variant, origin, child, appDir }
}

/** CPU µs per request of one window at saturation. */
async function window(server: Server, mode: Mode): Promise<{ cpu: number; failed: number }> {
  const before = cpuMicroseconds(server.child.pid)
  const r = await run(server.origin, mode, { seconds: WINDOW_SECONDS })
  await sleep(SETTLE_MS)
  return { cpu: (cpuMicroseconds(server.child.pid) - before) / r.completed, failed: r.failed }
}

/** One window per server, one after the other, the order rotating with the round. */
async function windowsInTurn(servers: Server[], mode: Mode, round: number) {
  const out: { cpu: number; failed: number }[] = []
  for (let i = 0; i < servers.length; i++) {
    const at = (i + round) % servers.length
    out[at] = await window(servers[at], mode)
  }
  return out
}

/** One window for all servers at once, the connections shared out: the same machine for each. */
async function windowTogether(servers: Server[], mode: Mode) {
  const before = servers.map((s) => cpuMicroseconds(s.child.pid))
  const connections = Math.max(1, Math.round(CONNECTIONS / servers.length))
  const runs = await Promise.all(
    servers.map((s) => run(s.origin, mode, { seconds: WINDOW_SECONDS, connections })),
  )
  await sleep(SETTLE_MS)
  return servers.map((s, i) => ({
    cpu: (cpuMicroseconds(s.child.pid) - before[i]) / runs[i].completed,
    failed: runs[i].failed,
  }))
}

async function memory(server: Server) {
  const rss = [rssMiB(server.child.pid)]
  let completed = 0
  let failures = 0
  for (let q = 0; q < 4; q++) {
    const r = await run(server.origin, 'non-streaming', { amount: Math.round(REQUESTS / 4) })
    completed += r.completed
    failures += r.failed
    await sleep(500)
    rss.push(rssMiB(server.child.pid))
  }
  const db = await stat(join(server.appDir, 'logs.db')).catch(() => undefined)
  const logs = server.variant.client.enable_logging === false ? undefined : await countLogs(server.origin)
  return { rss, completed, failures, db: db?.size, logs }
}

async function countLogs(origin: string): Promise<{ total: number; dropped: number }> {
  const logs = (await (await fetch(`${origin}/api/logs?limit=1`)).json()) as {
    pagination: { total_count: number }
  }
  const dropped = (await (await fetch(`${origin}/api/logs/dropped`)).json()) as { dropped_requests: number }
  return { total: logs.pagination.total_count, dropped: dropped.dropped_requests }
}

const pct = (r: number) => `${r >= 1 ? '+' : '−'}${Math.abs((r - 1) * 100).toFixed(0)} %`

async function main() {
  mkdirSync(outDir, { recursive: true })
  const upstream = await startFakeUpstream({ repoRoot, benchDir, outDir })
  const servers: Server[] = []
  const cpu = new Map<string, number[]>()
  const failed = new Map<string, number>()
  const lines: string[] = []
  try {
    for (const v of VARIANTS) servers.push(await startServer(v, upstream.origin))
    for (const mode of BENCH_MODES) {
      for (const s of servers) await run(s.origin, mode, { seconds: 2 })
      for (let round = 0; round < ROUNDS; round++) {
        const windows = TOGETHER
          ? await windowTogether(servers, mode)
          : await windowsInTurn(servers, mode, round)
        for (const [i, w] of windows.entries()) {
          const s = servers[i]
          const key = `${s.variant.id}/${mode}`
          cpu.set(key, [...(cpu.get(key) ?? []), w.cpu])
          failed.set(key, (failed.get(key) ?? 0) + w.failed)
          process.stderr.write(`${mode} round ${round + 1} ${s.variant.id}: ${w.cpu.toFixed(0)} µs/req\n`)
        }
      }
    }
    const cell = (v: Variant, mode: Mode) => {
      const xs = cpu.get(`${v.id}/${mode}`)
      if (!xs) return ['—', '—']
      const off = cpu.get(`off/${mode}`)
      const ratio = v.id !== 'off' && off ? pct(median(xs.map((x, i) => x / off[i]))) : '—'
      return [median(xs).toFixed(0), ratio]
    }
    lines.push(
      '| variant | CPU µs/request, non-streaming | vs off | CPU µs/request, streaming | vs off |',
      '|---|---|---|---|---|',
      ...VARIANTS.map(
        (v) =>
          `| ${v.name} | ${cell(v, 'non-streaming').join(' | ')} | ${cell(v, 'streaming').join(' | ')} |`,
      ),
      '',
      'Rounds (µs/request, in order):',
      ...[...cpu].map(
        ([k, xs]) =>
          `- ${k}: ${xs.map((x) => x.toFixed(0)).join(', ')}${failed.get(k) ? ` (${failed.get(k)} failed)` : ''}`,
      ),
      '',
      '| variant | RSS MiB at 0, ¼, ½, ¾, all requests | requests | log entries | logs.db | bytes per entry |',
      '|---|---|---|---|---|---|',
    )
    if (REQUESTS > 0) {
      for (const s of servers) {
        process.stderr.write(`memory ${s.variant.id} ...\n`)
        const m = await memory(s)
        lines.push(
          `| ${s.variant.name} | ${m.rss.map((x) => x.toFixed(0)).join(' → ')} | ${m.completed}${m.failures ? ` (${m.failures} failed)` : ''} | ` +
            `${m.logs ? `${m.logs.total} stored, ${m.logs.dropped} dropped` : '—'} | ` +
            `${m.db ? `${(m.db / 1024 / 1024).toFixed(1)} MiB` : '—'} | ` +
            `${m.db && m.logs?.total ? (m.db / m.logs.total).toFixed(0) : '—'} |`,
        )
      }
    }
  } finally {
    for (const s of servers) {
      await stopChild(s.child)
      await rm(s.appDir, { recursive: true, force: true })
    }
    await stopAllChildren()
  }
  console.log(lines.join('\n'))
}

await main()
