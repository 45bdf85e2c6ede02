// Turns the measurements into the markdown printed to stdout and written to bench/RESULTS.md.
import { readFileSync } from 'node:fs'
import { availableParallelism, release } from 'node:os'
import type { ChartRow } from './chart.js'
import type { ClusterResult } from './cluster.js'
import { MODES, type FixedRateResult, type Mode, type SaturationResult, type Spread } from './load.js'

export interface Settings {
  seconds: number
  warmupSeconds: number
  rate: number
  /** Saturation rounds per target and mode; figures are the median round's. */
  rounds: number
  connections: number
  profileHeimdall: boolean
  targets: string[] | undefined
}

export interface Measurement {
  target: string
  mode: Mode
  /** The median round (by CPU per request). */
  saturation?: SaturationResult
  /** Every saturation round, in the order run. */
  rounds?: SaturationResult[]
  fixedRate?: FixedRateResult
  /** Heimdall's event-loop delay p99 over the fixed-rate window (prom-client's monitorEventLoopDelay). */
  eventLoopP99Ms?: number
  /** What heimdall_overhead_seconds on /metrics gained over the fixed-rate window. */
  overheadHistogram?: Spread
  /** Anything that makes the figures suspect: failed requests, an answer that was not passed through. */
  problems: string[]
}

export interface RunSummary {
  settings: Settings
  command: string
  startedAt: Date
  /** describeMachine() as it was when the run began. */
  machine: string[]
  measurements: Measurement[]
  skipped: { target: string; reason: string }[]
  profiles: string[]
  /** Three nodes on PostgreSQL and Redis, when that target ran. */
  cluster?: ClusterResult[]
}

/** RESULTS.md below this line is notes written by hand: a run keeps them and rewrites what is above. */
export const KEPT_NOTES_MARKER =
  '<!-- bench/run.ts rewrites everything above this line and keeps what follows -->'

/** The figures issue 19 started from, kept beside every new run for comparison. */
const BASELINE = [
  "Issue 19's baseline, measured on `main` 2026-12-04 (2 cores, 50 connections):",
  '',
  '| target | JSON req/s | CPU µs per JSON request | SSE req/s | CPU µs per SSE request | p99 added at 1,000 req/s, JSON / SSE |',
  '| --- | --- | --- | --- | --- | --- |',
  '| floor (undici pass-through) | 13,277 | 63 | 9,405 | 88 | +1.0 / +0.9 ms |',
  '| Portkey 1.15.2 | 1,007 | 1,168 | 804 | 1,311 | saturated |',
  '| Heimdall, governed + logged | 2,834 | 350 | 2,018 | 480 | +14.7 / +37.1 ms |',
  '',
]

/** Other work above this (in cores, averaged over a measurement) makes the run worth repeating. */
const BUSY_MACHINE_CORES = 0.2

function readProcFile(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

export function describeMachine(): string[] {
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(readProcFile('/proc/cpuinfo'))?.[1] ?? 'unknown'
  const memKb = Number(/^MemTotal:\s*(\d+) kB$/m.exec(readProcFile('/proc/meminfo'))?.[1] ?? NaN)
  return [
    `CPU: ${cpuModel}, nproc ${availableParallelism()}`,
    `memory: ${(memKb / 1024 / 1024).toFixed(1)} GiB`,
    `node ${process.version}, Linux ${release()}`,
    // Other work on the machine skews every figure; this says how busy it was when the run began.
    `load average at start: ${readProcFile('/proc/loadavg').split(' ').slice(0, 3).join(' ') || 'unknown'}`,
  ]
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits)
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${value.toFixed(3)}`
}

function ratio(value: number, base: number): string {
  return Number.isFinite(value / base) && base > 0 ? `${(value / base).toFixed(2)}×` : '—'
}

/** Pads every column to its widest cell, the way Prettier lays out a markdown table. */
function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

function summaryRow(m: Measurement, all: Measurement[]): string[] {
  const peer = (target: string): Measurement | undefined =>
    all.find((other) => other.target === target && other.mode === m.mode)
  const direct = peer('direct')?.fixedRate
  const floor = peer('floor')
  const sat = m.saturation
  const lat = m.fixedRate

  let added = '—'
  let addedVsFloor = '—'
  if (m.target !== 'direct' && lat && direct) {
    const addedP50 = lat.p50Ms - direct.p50Ms
    const addedP99 = lat.p99Ms - direct.p99Ms
    added = `${signed(addedP50)} / ${signed(addedP99)}`
    const floorLat = floor?.fixedRate
    if (floorLat) {
      addedVsFloor = `${ratio(addedP50, floorLat.p50Ms - direct.p50Ms)} / ${ratio(addedP99, floorLat.p99Ms - direct.p99Ms)}`
    }
  }
  const cpuVsFloor = m.target !== 'direct' && floor ? cpuRatio(m, floor) : '—'

  return [
    m.problems.length > 0 ? `${m.target} (!)` : m.target,
    m.mode,
    fixed(sat?.requestsPerSecond, 0),
    fixed(sat?.cpuMicrosPerRequest, 0),
    (m.rounds ?? []).map((r) => fixed(r.cpuMicrosPerRequest, 0)).join(' '),
    fixed(lat?.p50Ms, 3),
    fixed(lat?.p99Ms, 3),
    added,
    addedVsFloor,
    cpuVsFloor,
    fixed(m.eventLoopP99Ms, 1),
  ]
}

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** CPU ÷ floor: the median of each round's ratio (the floor measured in the same round). */
function cpuRatio(m: Measurement, floor: Measurement): string {
  const mine = m.rounds ?? []
  const theirs = floor.rounds ?? []
  if (mine.length > 0 && mine.length === theirs.length) {
    const r = median(mine.map((x, i) => x.cpuMicrosPerRequest / theirs[i].cpuMicrosPerRequest))
    return Number.isFinite(r) ? `${r.toFixed(2)}×` : '—'
  }
  const base = floor.saturation?.cpuMicrosPerRequest
  return m.saturation && base ? ratio(m.saturation.cpuMicrosPerRequest, base) : '—'
}

function failureCounts(f: { non2xx: number; errors: number; timeouts: number } | undefined): string {
  return f ? `${f.non2xx} / ${f.errors} / ${f.timeouts}` : '—'
}

function detailRow(m: Measurement): string[] {
  const codes = { ...m.saturation?.statusCodes }
  for (const [code, count] of Object.entries(m.fixedRate?.statusCodes ?? {}))
    codes[code] = (codes[code] ?? 0) + count
  return [
    m.target,
    m.mode,
    fixed(m.saturation?.completed, 0),
    failureCounts(m.saturation),
    fixed(m.fixedRate?.sent, 0),
    failureCounts(m.fixedRate),
    fixed(m.fixedRate?.cpuMicrosPerRequest, 0),
    `${fixed(m.saturation?.otherCores, 2)} / ${fixed(m.fixedRate?.otherCores, 2)}`,
    Object.entries(codes)
      .map(([code, count]) => `${code}×${count}`)
      .join(' '),
  ]
}

function find(all: Measurement[], target: string, mode: Mode): Measurement | undefined {
  return all.find((m) => m.target === target && m.mode === mode)
}

/** p99 added over `direct` at the fixed rate, in ms. */
function p99Added(all: Measurement[], m: Measurement | undefined): number | undefined {
  const direct = m && find(all, 'direct', m.mode)?.fixedRate
  if (!m?.fixedRate || !direct || m.target === 'direct') return undefined
  return m.fixedRate.p99Ms - direct.p99Ms
}

/** A target that cannot serve the fixed rate at saturation, or failed at it: its p99 is queueing. */
function saturatedAtRate(m: Measurement | undefined, rate: number): boolean {
  if (!m?.saturation || !m.fixedRate) return false
  const f = m.fixedRate
  return m.saturation.requestsPerSecond < rate || f.timeouts + f.errors > 0
}

function targetsMeasured(all: Measurement[]): string[] {
  return [...new Set(all.map((m) => m.target))].filter((t) => t !== 'direct')
}

/** One row per target for the chart, in the order measured. */
export function chartRows(run: RunSummary): ChartRow[] {
  const all = run.measurements
  return targetsMeasured(all).map((target) => {
    const row: ChartRow = { target, cpuMicros: {}, p99AddedMs: {}, saturated: {} }
    for (const mode of MODES) {
      const m = find(all, target, mode)
      row.cpuMicros[mode] = m?.saturation?.cpuMicrosPerRequest
      row.p99AddedMs[mode] = p99Added(all, m)
      row.saturated[mode] = saturatedAtRate(m, run.settings.rate)
    }
    return row
  })
}

function thousands(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '—' : Math.round(value).toLocaleString('en-US')
}

/** Today's figures in the shape of the baseline's table, so the two read side by side. */
function baselineShapedTable(run: RunSummary): string {
  const all = run.measurements
  const rate = run.settings.rate
  const added = (m: Measurement | undefined): string => {
    if (saturatedAtRate(m, rate)) return 'saturated'
    const value = p99Added(all, m)
    return value === undefined ? '—' : `${value >= 0 ? '+' : ''}${value.toFixed(1)}`
  }
  const rows = targetsMeasured(all).map((target) => {
    const json = find(all, target, 'non-streaming')
    const sse = find(all, target, 'streaming')
    const floorJson = find(all, 'floor', 'non-streaming')
    const floorSse = find(all, 'floor', 'streaming')
    const vsFloor = (m: Measurement | undefined, floor: Measurement | undefined): string =>
      m && floor && target !== 'floor' ? ` (${cpuRatio(m, floor)})` : ''
    return [
      target,
      thousands(json?.saturation?.requestsPerSecond),
      `${thousands(json?.saturation?.cpuMicrosPerRequest)}${vsFloor(json, floorJson)}`,
      thousands(sse?.saturation?.requestsPerSecond),
      `${thousands(sse?.saturation?.cpuMicrosPerRequest)}${vsFloor(sse, floorSse)}`,
      `${added(json)} / ${added(sse)}`,
      `${fixed(json?.eventLoopP99Ms, 1)} / ${fixed(sse?.eventLoopP99Ms, 1)}`,
    ]
  })
  return markdownTable(
    [
      'target',
      'JSON req/s',
      'CPU µs per JSON request (÷ floor)',
      'SSE req/s',
      'CPU µs per SSE request (÷ floor)',
      `p99 ms added at ${thousands(rate)} req/s, JSON / SSE`,
      'event loop p99 ms, JSON / SSE',
    ],
    rows,
  )
}

function spread(s: Spread | undefined): string {
  return s ? `${fixed(s.meanMs, 3)} / ${fixed(s.p50Ms, 3)} / ${fixed(s.p99Ms, 3)}` : '—'
}

/**
 * Per Heimdall target and mode, at the fixed rate: what it says it added (the header on each answer,
 * the /metrics histogram) beside what the client saw it add over `direct`.
 */
function renderOverheadAccuracy(run: RunSummary): string[] {
  const lines = run.measurements
    .filter((m) => m.fixedRate?.overheadHeader || m.overheadHistogram)
    .map((m) => {
      const f = m.fixedRate as FixedRateResult
      const direct = find(run.measurements, 'direct', m.mode)?.fixedRate
      const added: Spread | undefined = direct && {
        count: f.sent,
        meanMs: f.meanMs - direct.meanMs,
        p50Ms: f.p50Ms - direct.p50Ms,
        p99Ms: f.p99Ms - direct.p99Ms,
      }
      return (
        `- ${m.target} ${m.mode}: x-heimdall-overhead-ms ${spread(f.overheadHeader)}; ` +
        `heimdall_overhead_seconds ${spread(m.overheadHistogram)}; added vs direct ${spread(added)}`
      )
    })
  if (lines.length === 0) return []
  return [
    `## Heimdall's own overhead as it reports it, at ${thousands(run.settings.rate)} req/s`,
    '',
    'Mean / p50 / p99 in ms over the fixed-rate window: the `x-heimdall-overhead-ms` header of every',
    'answer, `heimdall_overhead_seconds` (what the histogram gained over the window; p50 and p99',
    "interpolated within its buckets, as Prometheus's histogram_quantile does) and the latency the",
    'client saw added over `direct`. The added latency also holds what Heimdall cannot time itself: the',
    "extra loopback hop (the floor's added latency), time in socket buffers before Heimdall reads the",
    'request (event-loop delay) and, for a stream, every chunk relayed after the header was sent.',
    '',
    ...lines,
    '',
  ]
}

/** Three nodes on PostgreSQL and Redis: each node's CPU per request, and Redis commands per request. */
function renderCluster(run: RunSummary): string[] {
  if (!run.cluster || run.cluster.length === 0) return []
  const lines = [
    '## Three nodes on PostgreSQL and Redis (`heimdall-cluster`, `heimdall-cluster-before`)',
    '',
    "Three Heimdall processes on one PostgreSQL database and one Redis of the run's own, every request",
    "with the governed target's virtual key (budget and rate limit reserved and settled in Redis),",
    `logged with bodies; ${run.settings.connections} connections shared out, one autocannon per node, all`,
    "nodes at once, in the main rounds' rotation; each node's CPU divided by the requests it served (median",
    "of the rounds). CPU ÷ floor: the median of each round's ratio to the floor's same round. Redis round trips: the commands the nodes sent (MONITOR,",
    'those run inside Lua scripts left out) while the same 200 requests were sent one after the other,',
    "each placed by its time: before the answer's first byte (on the request's path), while the answer",
    "was sent, or after it; the nodes' idle rate (epoch checks) measured over a quiet second and taken off.",
    "`heimdall-cluster-before`: the same three nodes on BENCH_BEFORE_CLI's build, in the same rotation.",
    'An EVALSHA is named after its script: the answer waits for `reserve`; `settle` is sent as the answer',
    'is (before its first byte reaches the client) and not waited for.',
    '',
  ]
  const rows: string[][] = []
  for (const result of run.cluster) {
    const floorRounds = find(run.measurements, 'floor', result.mode)?.rounds ?? []
    const nodeCount = result.rounds[0]?.nodes.length ?? 0
    const nodeCpu = Array.from({ length: nodeCount }, (_, i) =>
      median(result.rounds.map((r) => r.nodes[i].cpuMicrosPerRequest)),
    )
    // Each round's node against the same round's floor, as for the single-process targets.
    const nodeRatio = Array.from({ length: nodeCount }, (_, i) =>
      median(
        result.rounds.map(
          (r, k) => r.nodes[i].cpuMicrosPerRequest / (floorRounds[k]?.cpuMicrosPerRequest ?? NaN),
        ),
      ),
    )
    const failures = result.rounds.flatMap((r) => r.nodes).reduce((s, n) => s + n.non2xx + n.errors, 0)
    const totalRps = median(
      result.rounds.map((r) => r.nodes.reduce((sum, n) => sum + n.requestsPerSecond, 0)),
    )
    const trace = (calls: Record<string, number> | undefined): string => {
      const entries = Object.entries(calls ?? {}).sort((x, y) => y[1] - x[1])
      const total = entries.reduce((sum, [, n]) => sum + n, 0)
      return entries.length === 0
        ? '0'
        : `${total.toFixed(2)} (${entries.map(([name, n]) => `${name} ${n.toFixed(2)}`).join(', ')})`
    }
    rows.push([
      result.target,
      result.mode,
      fixed(totalRps, 0),
      nodeCpu.map((c) => fixed(c, 0)).join(' / '),
      nodeRatio.map((r) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '—')).join(' / '),
      result.redis ? trace(result.redis.beforeFirstByte) : '—',
      result.redis ? trace(result.redis.duringAnswer) : '—',
      result.redis ? trace(result.redis.afterAnswer) : '—',
      String(failures),
    ])
    lines.push(...result.problems.map((p) => `- ${result.target} ${result.mode}: ${p}`))
  }
  return [
    ...lines,
    markdownTable(
      [
        'target',
        'mode',
        'req/s, all nodes',
        'CPU µs/req, node 1 / 2 / 3',
        'CPU ÷ floor',
        'Redis round trips per request: before the first byte',
        'while answering',
        'after the answer',
        'non-2xx + errors',
      ],
      rows,
    ),
    '',
  ]
}

export function renderReport(run: RunSummary): string {
  const { settings, measurements } = run
  const summary = markdownTable(
    [
      'target',
      'mode',
      'req/s (saturation)',
      'CPU µs/req',
      'CPU µs/req by round',
      'p50 ms',
      'p99 ms',
      'added p50 / p99 ms vs direct',
      'added ÷ floor added',
      'CPU ÷ floor',
      'event loop p99 ms',
    ],
    measurements.map((m) => summaryRow(m, measurements)),
  )
  const details = markdownTable(
    [
      'target',
      'mode',
      'saturation requests',
      'non-2xx / errors / timeouts',
      'fixed-rate requests',
      'non-2xx / errors / timeouts',
      'CPU µs/req at fixed rate',
      'other load, cores',
      'status codes',
    ],
    measurements.map(detailRow),
  )
  const problems = measurements.flatMap((m) => m.problems.map((p) => `- ${m.target} ${m.mode}: ${p}`))
  const busiest = measurements
    .flatMap((m) => [m.saturation, m.fixedRate].map((r) => ({ m, cores: r?.otherCores ?? 0 })))
    .reduce((a, b) => (b.cores > a.cores ? b : a), { m: undefined as Measurement | undefined, cores: 0 })
  const busy =
    busiest.m && busiest.cores > BUSY_MACHINE_CORES
      ? [
          `Busy machine: other processes used up to ${busiest.cores.toFixed(2)} cores while ` +
            `${busiest.m.target} ${busiest.m.mode} was measured (see "other load" below); ` +
            'saturation and p99 figures are skewed. Rerun on an idle machine before comparing.',
          '',
        ]
      : []
  const skipped = run.skipped.map((s) => `- ${s.target}: skipped, ${s.reason}`)
  const profiles = run.profiles.map((p) => `- CPU profile: \`${p}\` (open in Chrome DevTools or speedscope)`)

  return [
    '# Heimdall benchmark',
    '',
    '![CPU µs per request and p99 added, by target](results.svg)',
    '',
    `- date: ${run.startedAt.toISOString()}`,
    ...run.machine.map((line) => `- ${line}`),
    `- command: \`${run.command}\``,
    `- settings: ${settings.rounds} saturation rounds of ${settings.seconds} s per target and mode after ` +
      `${settings.warmupSeconds} s of warm-up, targets interleaved; ${settings.connections} connections at ` +
      `saturation, ${settings.rate} req/s for latency`,
    '',
    `## This run beside issue 19's baseline`,
    '',
    baselineShapedTable(run),
    '',
    ...BASELINE,
    '## This run in full',
    '',
    summary,
    '',
    ...busy,
    ...(problems.length > 0 ? ['Flagged (!):', '', ...problems, ''] : []),
    ...(skipped.length > 0 ? [...skipped, ''] : []),
    ...(profiles.length > 0 ? [...profiles, ''] : []),
    ...renderOverheadAccuracy(run),
    '## How to read it',
    '',
    '- req/s: autocannon, closed loop, pipelining 1. Client, proxy and fake upstream share the same cores,',
    '  so this is a relative figure.',
    "- CPU µs/req: utime + stime of the target's process (all threads) over a saturation window, divided",
    '  by the requests completed in it; the median of the rounds (all rounds listed beside it). For',
    "  `direct` it is the fake upstream's own cost. CPU ÷ floor: the median of the rounds' ratios.",
    '- heimdall: no virtual key, request logging with bodies (the default). heimdall-governed: every',
    '  request carries a virtual key with a budget and a rate limit (requests and tokens), logged with bodies.',
    "- event loop p99: Heimdall's own `nodejs_eventloop_lag_p99_seconds` over the fixed-rate window.",
    '- p50 / p99: open loop at the fixed rate, one request every 1/rate s, timed from dispatch to the last',
    "  byte with sub-millisecond precision (autocannon's `overallRate` sends each second's requests in one",
    '  burst and keeps whole milliseconds, so it is not used for latency).',
    "- added: target minus `direct` at the same percentile; ÷ floor: that, divided by the floor's added",
    '  latency.',
    '- other load: cores used by processes other than the client, the target and the fake upstream',
    '  during the saturation / fixed-rate window (steal time included).',
    '',
    '## Details',
    '',
    details,
    '',
    ...renderCluster(run),
    KEPT_NOTES_MARKER,
  ].join('\n')
}
