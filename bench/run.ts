// `npm run bench`: measures the fake upstream alone, the floor proxy, Heimdall (plain, and governed: a
// virtual key with a budget and a rate limit, logging with bodies) and (if installed) Portkey, prints
// a markdown table and writes it to bench/RESULTS.md with a chart, bench/results.svg (hand-written notes
// below RESULTS.md's marker line are kept). Every target runs at once in its own process;
// each of BENCH_ROUNDS rounds saturates them one after the other, the order rotating, so that a
// machine whose speed drifts charges every target alike; a figure is the median of its rounds, and a
// ratio to the floor the median of the per-round ratios. Settings, all optional:
//   BENCH_SECONDS (10) per measurement, BENCH_WARMUP_SECONDS (2), BENCH_ROUNDS (3),
//   BENCH_RATE (1000 req/s for latency), BENCH_CONNECTIONS (50),
//   BENCH_TARGETS (e.g. "floor,heimdall,heimdall-governed"; direct always runs; all by default:
//     floor, heimdall, heimdall-governed, heimdall-before, heimdall-governed-before, portkey,
//     heimdall-cluster, heimdall-cluster-before), BENCH_HEIMDALL_CLI (dist/cli.js), BENCH_BEFORE_CLI
//     (an older build's dist/cli.js, measured as the -before targets), BENCH_DATABASE_URL or DATABASE_URL (the
//     PostgreSQL server heimdall-cluster creates its database on), BENCH_RESULTS (bench/RESULTS.md;
//     the SVG goes beside it), BENCH_PROFILE=1 or --cpu-prof (profile Heimdall into bench/out).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  holdFixedRate,
  MODES,
  saturate,
  verifyAnswer,
  type Failures,
  type LoadTarget,
  type Mode,
  type SaturationResult,
  type Spread,
} from './load.js'
import { renderChart } from './chart.js'
import {
  checkAndWarmCluster,
  CLUSTER_BEFORE_TARGET,
  CLUSTER_TARGET,
  clusterUnavailableBecause,
  saturateCluster,
  startCluster,
  traceRedisRoundTrips,
  type ClusterResult,
  type RunningCluster,
} from './cluster.js'
import { killAllChildrenNow, stopAllChildren, stopChild } from './processes.js'
import {
  chartRows,
  describeMachine,
  KEPT_NOTES_MARKER,
  renderReport,
  type Measurement,
  type RunSummary,
  type Settings,
} from './report.js'
import { heimdallCli, startFakeUpstream, TARGETS, type BenchContext, type StartedTarget } from './targets.js'

const benchDir = dirname(fileURLToPath(import.meta.url))
const repoRoot = dirname(benchDir)
const outDir = join(benchDir, 'out')

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`)
  return value
}

function readSettings(): Settings {
  const targets = process.env.BENCH_TARGETS?.split(',')
    .map((t) => t.trim())
    .filter(Boolean)
  return {
    seconds: positiveNumber('BENCH_SECONDS', 10),
    warmupSeconds: positiveNumber('BENCH_WARMUP_SECONDS', 2),
    rate: positiveNumber('BENCH_RATE', 1000),
    rounds: Math.round(positiveNumber('BENCH_ROUNDS', 3)),
    connections: positiveNumber('BENCH_CONNECTIONS', 50),
    profileHeimdall: process.argv.includes('--cpu-prof') || process.env.BENCH_PROFILE === '1',
    targets: targets && targets.length > 0 ? targets : undefined,
  }
}

/** The command as typed, BENCH_* variables included, so that RESULTS.md says how to reproduce it. */
function reproducingCommand(): string {
  const env = Object.entries(process.env)
    .filter(([name]) => name.startsWith('BENCH_'))
    .map(([name, value]) => `${name}=${value}`)
  const script = relative(process.cwd(), process.argv[1] ?? 'bench/run.ts')
  return [...env, 'node', ...process.execArgv, script, ...process.argv.slice(2)].join(' ')
}

function flagFailures(label: string, f: Failures): string[] {
  const parts = [
    f.non2xx > 0 ? `${f.non2xx} non-2xx` : '',
    f.errors > 0 ? `${f.errors} errors` : '',
    f.timeouts > 0 ? `${f.timeouts} timeouts` : '',
  ].filter(Boolean)
  return parts.length > 0 ? [`${label}: ${parts.join(', ')}`] : []
}

/** Checks one answer and warms the target up; false when it does not answer 200 (not measured). */
async function checkAndWarm(
  target: LoadTarget,
  mode: Mode,
  settings: Settings,
  m: Measurement,
): Promise<boolean> {
  const check = await verifyAnswer(target, mode)
  if (check.problem) m.problems.push(`answer check failed (${check.problem})`)
  // A target that does not answer 200 would only be measured failing fast.
  if (check.status !== 200) return false
  await saturate(target, mode, { seconds: settings.warmupSeconds, connections: settings.connections })
  return true
}

/** Heimdall's /metrics, or undefined for a target without it. */
async function scrapeMetrics(target: LoadTarget): Promise<string | undefined> {
  if (!target.metricsUrl) return undefined
  try {
    return await (await fetch(target.metricsUrl, { signal: AbortSignal.timeout(5000) })).text()
  } catch {
    return undefined
  }
}

/** The event-loop delay p99 (prom-client resets its histogram at every scrape), in ms. */
function eventLoopP99Ms(metrics: string | undefined): number | undefined {
  const value = metrics && /^nodejs_eventloop_lag_p99_seconds\s+([0-9.eE+-]+)$/m.exec(metrics)?.[1]
  return value ? Number(value) * 1000 : undefined
}

/** heimdall_overhead_seconds, every route summed: cumulative count per bucket bound, sum, count. */
interface OverheadHistogram {
  buckets: Map<number, number>
  sum: number
  count: number
}

function overheadHistogram(metrics: string | undefined): OverheadHistogram | undefined {
  if (!metrics) return undefined
  const h: OverheadHistogram = { buckets: new Map(), sum: 0, count: 0 }
  const line = /^heimdall_overhead_seconds_(bucket|sum|count)(?:\{([^}]*)\})?\s+([0-9.eE+-]+)$/gm
  for (const [, kind, labels, value] of metrics.matchAll(line)) {
    if (kind === 'sum') h.sum += Number(value)
    else if (kind === 'count') h.count += Number(value)
    else {
      const le = /le="([^"]+)"/.exec(labels ?? '')?.[1]
      const bound = le === '+Inf' ? Infinity : Number(le)
      h.buckets.set(bound, (h.buckets.get(bound) ?? 0) + Number(value))
    }
  }
  return h.count > 0 || h.buckets.size > 0 ? h : undefined
}

/** As Prometheus's histogram_quantile: linear within the bucket the quantile falls in, in ms. */
function histogramQuantileMs(bounds: [number, number][], count: number, q: number): number {
  const rank = q * count
  let lower = 0
  let below = 0
  for (const [bound, cumulative] of bounds) {
    if (cumulative >= rank) {
      if (bound === Infinity) return lower * 1000
      const inBucket = cumulative - below
      return (lower + ((bound - lower) * (rank - below)) / (inBucket || 1)) * 1000
    }
    lower = bound
    below = cumulative
  }
  return NaN
}

/** What the histogram gained between two scrapes. */
function overheadSpread(
  before: OverheadHistogram | undefined,
  after: OverheadHistogram | undefined,
): Spread | undefined {
  if (!after) return undefined
  const count = after.count - (before?.count ?? 0)
  if (count <= 0) return undefined
  const bounds: [number, number][] = [...after.buckets]
    .map(([bound, n]): [number, number] => [bound, n - (before?.buckets.get(bound) ?? 0)])
    .sort((a, b) => a[0] - b[0])
  return {
    count,
    meanMs: ((after.sum - (before?.sum ?? 0)) / count) * 1000,
    p50Ms: histogramQuantileMs(bounds, count, 0.5),
    p99Ms: histogramQuantileMs(bounds, count, 0.99),
  }
}

async function measureFixedRate(
  target: LoadTarget,
  mode: Mode,
  settings: Settings,
  m: Measurement,
): Promise<void> {
  await sleep(500) // let the queues drain before timing single requests
  log(`  ${target.name} ${mode}: ${settings.rate} req/s for ${settings.seconds} s`)
  const atRate = { rate: settings.rate, connections: settings.connections }
  // The client's own request path must be warm too, or its JIT shows up in the first target's p99.
  await holdFixedRate(target, mode, { ...atRate, seconds: settings.warmupSeconds })
  // A scrape resets the event loop's histogram: what follows is this window's.
  const before = await scrapeMetrics(target)
  m.fixedRate = await holdFixedRate(target, mode, { ...atRate, seconds: settings.seconds })
  const after = await scrapeMetrics(target)
  m.eventLoopP99Ms = eventLoopP99Ms(after)
  m.overheadHistogram = overheadSpread(overheadHistogram(before), overheadHistogram(after))
  m.problems.push(...flagFailures('at fixed rate', m.fixedRate))
}

/** The round whose CPU per request is the median: its figures stand for the target. */
function medianRound(rounds: SaturationResult[]): SaturationResult | undefined {
  const sorted = [...rounds].sort((a, b) => a.cpuMicrosPerRequest - b.cpuMicrosPerRequest)
  return sorted[Math.floor((sorted.length - 1) / 2)]
}

/** The targets running, so that an interrupted run still stops them and removes their files. */
const running: StartedTarget[] = []

/** The clusters running (heimdall-cluster, heimdall-cluster-before), by target name. */
const runningClusters: { name: string; cluster: RunningCluster }[] = []

async function shutdown(): Promise<void> {
  const clusters = runningClusters.splice(0)
  await Promise.all([
    ...running.splice(0).map((t) => t.stop().catch(() => {})),
    ...clusters.map(({ cluster }) => cluster.stop().catch(() => {})),
  ])
  await stopAllChildren()
}

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

function listProfiles(): string[] {
  try {
    return readdirSync(outDir)
      .filter((file) => file.endsWith('.cpuprofile'))
      .map((file) => relative(repoRoot, join(outDir, file)))
  } catch {
    return []
  }
}

async function main(): Promise<void> {
  const settings = readSettings()
  const startedAt = new Date()
  const machine = describeMachine()
  mkdirSync(outDir, { recursive: true })
  const profilesBefore = new Set(listProfiles())

  const selected = TARGETS.filter(
    (t) => !settings.targets || t.name === 'direct' || settings.targets.includes(t.name),
  )
  // The older build's cluster only when asked for by name: three more nodes double the cluster's time.
  const clustersSelected = [CLUSTER_TARGET, CLUSTER_BEFORE_TARGET].filter((name) =>
    name === CLUSTER_TARGET
      ? !settings.targets || settings.targets.includes(name)
      : settings.targets?.includes(name),
  )
  const known = [...TARGETS.map((t) => t.name), CLUSTER_TARGET, CLUSTER_BEFORE_TARGET]
  const unknown = settings.targets?.filter((t) => !known.includes(t)) ?? []
  if (unknown.length > 0)
    throw new Error(`BENCH_TARGETS: unknown ${unknown.join(', ')} (known: ${known.join(', ')})`)
  // Bounded no matter what hangs: every phase's nominal length, plus generous start-up and stop time.
  const perMode =
    (settings.rounds + 2) * settings.seconds + 2 * settings.warmupSeconds + 5 * settings.rounds + 15
  const budgetMs =
    ((selected.length + 3 * clustersSelected.length) * (MODES.length * perMode + 30) + 60) * 1000
  setTimeout(() => {
    log(`bench: exceeded its ${Math.round(budgetMs / 1000)} s budget, stopping`)
    void shutdown().finally(() => process.exit(1))
  }, budgetMs).unref()

  log('bench: starting the fake upstream')
  const upstream = await startFakeUpstream({ repoRoot, benchDir, outDir })
  const ctx: BenchContext = {
    repoRoot,
    benchDir,
    outDir,
    upstream: { origin: upstream.origin, pid: upstream.child.pid },
    profileHeimdall: settings.profileHeimdall,
  }

  const measurements: Measurement[] = []
  const skipped: RunSummary['skipped'] = []
  for (const definition of selected) {
    const reason = definition.unavailableBecause(ctx)
    if (reason) {
      log(`bench: ${definition.name} skipped, ${reason}`)
      skipped.push({ target: definition.name, reason })
      continue
    }
    log(`bench: starting ${definition.name}`)
    try {
      running.push(await definition.start(ctx))
    } catch (err) {
      const message = (err as Error).message
      log(`bench: ${definition.name} did not start: ${message}`)
      const oneLine = message.replace(/\s*\n\s*/g, ' | ').slice(0, 400)
      skipped.push({ target: definition.name, reason: `did not start: ${oneLine}` })
    }
  }
  for (const name of clustersSelected) {
    const cli = name === CLUSTER_BEFORE_TARGET ? process.env.BENCH_BEFORE_CLI || undefined : heimdallCli(ctx)
    const reason = cli
      ? await clusterUnavailableBecause(ctx, cli)
      : 'BENCH_BEFORE_CLI is not set (the dist/cli.js of an older build to compare with)'
    if (reason) {
      log(`bench: ${name} skipped, ${reason}`)
      skipped.push({ target: name, reason })
      continue
    }
    log(`bench: starting ${name} (3 nodes, PostgreSQL, Redis)`)
    try {
      runningClusters.push({ name, cluster: await startCluster(ctx, { name, cli }) })
    } catch (err) {
      const message = (err as Error).message
      log(`bench: ${name} did not start: ${message}`)
      const oneLine = message.replace(/\s*\n\s*/g, ' | ').slice(0, 400)
      skipped.push({ target: name, reason: `did not start: ${oneLine}` })
    }
  }
  const clusterResults: ClusterResult[] = []
  const saturation = { seconds: settings.seconds, connections: settings.connections }
  for (const mode of MODES) {
    const measured: { target: LoadTarget; m: Measurement }[] = []
    for (const started of running) {
      const m: Measurement = { target: started.load.name, mode, problems: [], rounds: [] }
      measurements.push(m)
      if (await checkAndWarm(started.load, mode, settings, m)) measured.push({ target: started.load, m })
    }
    const steps: { name: string; run: (round: number) => Promise<void> }[] = measured.map(
      ({ target, m }) => ({
        name: target.name,
        run: async (round) => {
          const result = await saturate(target, mode, saturation)
          m.rounds?.push(result)
          m.problems.push(...flagFailures(`at saturation, round ${round + 1}`, result))
        },
      }),
    )
    const clustersThisMode: { cluster: RunningCluster; result: ClusterResult }[] = []
    for (const { name, cluster } of runningClusters) {
      const result: ClusterResult = { target: name, mode, rounds: [], problems: [] }
      clusterResults.push(result)
      clustersThisMode.push({ cluster, result })
      result.problems.push(
        ...(await checkAndWarmCluster(cluster, mode, { ...saturation, seconds: settings.warmupSeconds })),
      )
      if (result.problems.length === 0)
        steps.push({
          name,
          run: async (round) => {
            const r = await saturateCluster(cluster, mode, saturation)
            result.rounds.push(r)
            r.nodes.forEach((n, i) =>
              result.problems.push(...flagFailures(`node ${i + 1} at saturation, round ${round + 1}`, n)),
            )
          },
        })
    }
    for (let round = 0; round < settings.rounds; round++) {
      // Rotating the order: no target is always measured first, or right after the heaviest.
      const order = steps.map((_, i) => steps[(i + round) % steps.length])
      for (const step of order) {
        log(`  round ${round + 1}/${settings.rounds} ${step.name} ${mode}: saturation ${settings.seconds} s`)
        await step.run(round)
      }
    }
    for (const { cluster, result } of clustersThisMode) {
      if (result.problems.length > 0) continue
      log(`  ${result.target} ${mode}: counting Redis round trips per request (MONITOR)`)
      result.redis = await traceRedisRoundTrips(cluster, mode)
    }
    for (const { m } of measured) m.saturation = medianRound(m.rounds ?? [])
    for (const { target, m } of measured) await measureFixedRate(target, mode, settings, m)
  }
  await Promise.all(running.splice(0).map((t) => t.stop()))
  for (const { cluster } of runningClusters.splice(0)) await cluster.stop()
  await stopChild(upstream.child)

  const profiles = listProfiles().filter((p) => !profilesBefore.has(p))
  if (
    settings.profileHeimdall &&
    profiles.length === 0 &&
    measurements.some((m) => m.target.startsWith('heimdall'))
  ) {
    log(
      'bench: no CPU profile was written; Heimdall must exit cleanly on SIGTERM for --cpu-prof to write one',
    )
  }
  const summary: RunSummary = {
    settings,
    command: reproducingCommand(),
    startedAt,
    machine,
    measurements,
    skipped,
    profiles,
    cluster: clusterResults.filter((c) => c.rounds.length > 0 || c.problems.length > 0),
  }
  const markdown = renderReport(summary)
  process.stdout.write(`${markdown}\n`)
  const resultsPath = process.env.BENCH_RESULTS || join(benchDir, 'RESULTS.md')
  writeFileSync(resultsPath, markdown + keptNotes(resultsPath))
  const chartPath = join(dirname(resultsPath), 'results.svg')
  const caption =
    `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine[0]}; median of ` +
    `${settings.rounds} rounds of ${settings.seconds} s, ${settings.connections} connections; p99 at ${settings.rate} req/s`
  writeFileSync(chartPath, renderChart(chartRows(summary), caption))
  log(`bench: written to ${relative(process.cwd(), resultsPath)} and ${relative(process.cwd(), chartPath)}`)
}

/** What follows the marker line in the results file already there: notes a run must not erase. */
function keptNotes(path: string): string {
  if (!existsSync(path)) return '\n'
  const text = readFileSync(path, 'utf8')
  const at = text.indexOf(KEPT_NOTES_MARKER)
  return at < 0 ? '\n' : text.slice(at + KEPT_NOTES_MARKER.length)
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`bench: ${signal}, stopping child processes`)
    void shutdown().finally(() => process.exit(130))
  })
}
process.once('exit', killAllChildrenNow)

main().then(
  () => shutdown(),
  async (err: Error) => {
    log(`bench: ${err.stack ?? err.message}`)
    await shutdown()
    process.exitCode = 1
  },
)
