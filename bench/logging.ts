// `node --import tsx bench/logging.ts`: what request logging costs. Heimdall (from dist/, so run
// `npm run build` first) runs in front of the fake upstream with `client.enable_logging: false`, with
// logging on without bodies, and with bodies stored (SQLite); each run reports CPU µs per request at
// saturation, then RSS after every quarter of BENCH_LOG_REQUESTS (100,000) requests. Prints a markdown
// table to paste into RESULTS.md. BENCH_PROFILE=1 writes a CPU profile of each run to bench/out.
import { mkdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { openCpuWindow } from './cpu.js'
import { CHAT_PATH, requestBody, type Mode } from './load.js'
import { freePort, startNode, stopAllChildren, stopChild, waitUntilReady } from './processes.js'
import { startFakeUpstream } from './targets.js'

const benchDir = dirname(fileURLToPath(import.meta.url))
const repoRoot = dirname(benchDir)
const outDir = join(benchDir, 'out')
const REQUESTS = Number(process.env.BENCH_LOG_REQUESTS ?? 100_000)
const CPU_SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))
  return Number(line?.split(/\s+/)[1] ?? NaN) / 1024
}

interface Variant {
  name: string
  client: Record<string, unknown>
}

const VARIANTS: Variant[] = [
  { name: 'logging off', client: { enable_logging: false } },
  { name: 'logging on, no bodies', client: { enable_logging: true, disable_content_logging: true } },
  { name: 'logging on, bodies stored', client: { enable_logging: true, disable_content_logging: false } },
]
const PROFILE = process.env.BENCH_PROFILE === '1'

async function run(origin: string, mode: Mode, opts: { seconds?: number; amount?: number }) {
  const result = await autocannon({
    url: origin + CHAT_PATH,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-anything' },
    body: requestBody(mode),
    connections: CONNECTIONS,
    pipelining: 1,
    ...(opts.seconds !== undefined ? { duration: opts.seconds } : { amount: opts.amount }),
    timeout: 10,
  })
  return { completed: result.requests.total, non2xx: result.non2xx, errors: result.errors }
}

async function measure(variant: Variant, upstream: { origin: string; pid: number }) {
  const appDir = await mkdtemp(join(tmpdir(), 'heimdall-bench-logs-'))
  const config = {
    client: variant.client,
    providers: {
      openai: {
        keys: [{ name: 'bench', value: 'sk-bench', models: ['*'], weight: 1 }],
        network_config: { base_url: upstream.origin },
      },
    },
  }
  await writeFile(join(appDir, 'config.json'), JSON.stringify(config))
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const child = startNode({
    name: `heimdall-${variant.name.replace(/\W+/g, '-')}`,
    args: [
      ...(PROFILE ? ['--cpu-prof', '--cpu-prof-dir', outDir] : []),
      join(repoRoot, 'dist', 'cli.js'),
      '--app-dir',
      appDir,
      '--port',
      String(port),
    ].concat(['--host', '127.0.0.1', '--log-level', 'warn']),
    cwd: repoRoot,
    logDir: outDir,
  })
  try {
    await waitUntilReady(child, `${origin}/health`, 60_000)
    const cpu: Record<Mode, number> = { 'non-streaming': NaN, streaming: NaN }
    for (const mode of ['non-streaming', 'streaming'] as Mode[]) {
      await run(origin, mode, { seconds: 2 })
      const close = openCpuWindow([process.pid, child.pid, upstream.pid])
      const r = await run(origin, mode, { seconds: CPU_SECONDS })
      cpu[mode] = close().spentBy(child.pid) / r.completed
    }
    // RSS after each quarter: flat memory is a plateau, not a slope.
    const rss = [rssMiB(child.pid)]
    let completed = 0
    let failures = 0
    for (let q = 0; q < 4; q++) {
      const r = await run(origin, 'non-streaming', { amount: Math.round(REQUESTS / 4) })
      completed += r.completed
      failures += r.non2xx + r.errors
      await new Promise((resolve) => setTimeout(resolve, 500))
      rss.push(rssMiB(child.pid))
    }
    const db = await stat(join(appDir, 'logs.db')).catch(() => undefined)
    const logs = variant.client.enable_logging === false ? undefined : await countLogs(origin)
    return { cpu, rss, completed, failures, db: db?.size, logs }
  } finally {
    await stopChild(child)
    await rm(appDir, { recursive: true, force: true })
  }
}

async function countLogs(origin: string): Promise<{ total: number; dropped: number }> {
  const logs = (await (await fetch(`${origin}/api/logs?limit=1`)).json()) as {
    pagination: { total_count: number }
  }
  const dropped = (await (await fetch(`${origin}/api/logs/dropped`)).json()) as { dropped_requests: number }
  return { total: logs.pagination.total_count, dropped: dropped.dropped_requests }
}

async function main() {
  mkdirSync(outDir, { recursive: true })
  const upstream = await startFakeUpstream({ repoRoot, benchDir, outDir })
  const rows: string[] = []
  try {
    for (const v of VARIANTS) {
      process.stderr.write(`${v.name} ...\n`)
      const m = await measure(v, { origin: upstream.origin, pid: upstream.child.pid })
      rows.push(
        `| ${v.name} | ${m.cpu['non-streaming'].toFixed(0)} | ${m.cpu.streaming.toFixed(0)} | ` +
          `${m.rss.map((x) => x.toFixed(0)).join(' → ')} | ${m.completed}${m.failures ? ` (${m.failures} failed)` : ''} | ` +
          `${m.logs ? `${m.logs.total} stored, ${m.logs.dropped} dropped` : '—'} | ` +
          `${m.db ? `${(m.db / 1024 / 1024).toFixed(1)} MiB` : '—'} |`,
      )
    }
  } finally {
    await stopAllChildren()
  }
  console.log(
    [
      '| variant | CPU µs/request, non-streaming | CPU µs/request, streaming | RSS MiB at 0, ¼, ½, ¾, all requests | requests | log entries | logs.db |',
      '|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n'),
  )
}

await main()
