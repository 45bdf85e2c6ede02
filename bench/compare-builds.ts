// Micro-measurement for work on the request path: CPU per request of two Heimdall builds side by side
// (and the floor), their saturation windows interleaved so that the machine's drift charges both alike,
// and optionally a CPU profile of each, summarized by self time. Does not touch bench/RESULTS.md.
//   COMPARE_CLIS   comma-separated builds' cli.js (default: dist/cli.js only)
//   COMPARE_MODES  non-streaming,streaming (default both)
//   COMPARE_GOVERNED=1  the governed target (virtual key with budget and rate limit) instead of plain
//   BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_CONNECTIONS (50)
//   COMPARE_PROFILE=1  run each build under --cpu-prof and print its top self-time functions
//   COMPARE_OUT    where logs and profiles go (default bench/out/compare), so that two runs can share a checkout
//   BENCH_NODE_ARGS extra node flags for each Heimdall process, e.g. "--trace-gc"
// e.g. COMPARE_CLIS=/tmp/before/dist/cli.js,dist/cli.js node --import tsx bench/compare-builds.ts
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MODES, saturate, verifyAnswer, type Mode } from './load.js'
import { stopAllChildren } from './processes.js'
import { startFakeUpstream, TARGETS, type BenchContext, type StartedTarget } from './targets.js'

const benchDir = dirname(fileURLToPath(import.meta.url))
const repoRoot = dirname(benchDir)
const outDir = process.env.COMPARE_OUT ? resolve(process.env.COMPARE_OUT) : join(benchDir, 'out', 'compare')

const num = (name: string, fallback: number) => Number(process.env[name] || fallback)
const seconds = num('BENCH_SECONDS', 5)
const rounds = num('BENCH_ROUNDS', 3)
const connections = num('BENCH_CONNECTIONS', 50)
const clis = (process.env.COMPARE_CLIS || 'dist/cli.js').split(',').map((p) => resolve(p))
const modes = (process.env.COMPARE_MODES?.split(',') as Mode[] | undefined) ?? MODES
const governed = process.env.COMPARE_GOVERNED === '1'
const profile = process.env.COMPARE_PROFILE === '1'

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

/** Self time by function and by file of a .cpuprofile, as shares of the non-idle samples. */
function summarizeProfile(path: string, lastMs: number, top = 35): string {
  const p = JSON.parse(readFileSync(path, 'utf8')) as {
    nodes: ProfileNode[]
    samples: number[]
    timeDeltas: number[]
    endTime: number
  }
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const counts = new Map<number, number>()
  // Only the samples of the measured windows: start-up and warm-up (module loading, JIT) left out.
  const times = p.timeDeltas.map(
    (
      (t) => (d: number) =>
        (t += d)
    )(0),
  )
  const from = times[times.length - 1] - lastMs * 1000
  p.samples.forEach((s, i) => {
    if (times[i] >= from) counts.set(s, (counts.get(s) ?? 0) + 1)
  })
  const fns = new Map<string, number>()
  const files = new Map<string, number>()
  let busy = 0
  for (const [id, count] of counts) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    if (functionName === '(idle)' || functionName === '(program)') continue
    busy += count
    const file = url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/') || '(native)'
    const fileKey = file.startsWith('node_modules/') ? file.split('/').slice(0, 2).join('/') : file
    fns.set(
      `${functionName || '(anon)'} ${file}:${lineNumber + 1}`,
      (fns.get(`${functionName || '(anon)'} ${file}:${lineNumber + 1}`) ?? 0) + count,
    )
    files.set(fileKey, (files.get(fileKey) ?? 0) + count)
  }
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, c]) => `  ${((100 * c) / busy).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n')
  return `functions (self time, % of busy samples):\n${list(fns)}\nfiles:\n${list(files)}`
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true })
  const upstream = await startFakeUpstream({ repoRoot, benchDir, outDir })
  let measuredFrom = 0
  let measuredMs = 0
  const started: { label: string; target: StartedTarget; profileDir?: string }[] = []
  try {
    const floorCtx: BenchContext = {
      repoRoot,
      benchDir,
      outDir,
      upstream: { origin: upstream.origin, pid: upstream.child.pid },
      profileHeimdall: false,
    }
    started.push({ label: 'floor', target: await TARGETS.find((t) => t.name === 'floor')!.start(floorCtx) })
    const definition = TARGETS.find((t) => t.name === (governed ? 'heimdall-governed' : 'heimdall'))!
    for (const [i, cli] of clis.entries()) {
      process.env.BENCH_HEIMDALL_CLI = cli
      const profileDir = join(outDir, `build-${i}`)
      rmSync(profileDir, { recursive: true, force: true })
      mkdirSync(profileDir, { recursive: true })
      // A loaded machine can take longer than the harness's 20 s to start a governed node: try again.
      let target: StartedTarget | undefined
      for (let attempt = 1; !target; attempt++) {
        try {
          target = await definition.start({ ...floorCtx, outDir: profileDir, profileHeimdall: profile })
        } catch (err) {
          if (attempt === 3) throw err
        }
      }
      started.push({ label: `build ${i} (${cli})`, target, profileDir })
    }
    for (const mode of modes) {
      const cpu = new Map<string, number[]>(started.map((s) => [s.label, []]))
      for (const s of started) {
        const check = await verifyAnswer(s.target.load, mode)
        if (check.status !== 200 || check.problem)
          throw new Error(`${s.label}: ${check.status} ${check.problem}`)
        await saturate(s.target.load, mode, { seconds: 2, connections })
      }
      measuredFrom ||= Date.now()
      for (let r = 0; r < rounds; r++) {
        // rotate the order each round
        const order = started.map((_, i) => started[(i + r) % started.length])
        for (const s of order) {
          const res = await saturate(s.target.load, mode, { seconds, connections })
          cpu.get(s.label)!.push(res.cpuMicrosPerRequest)
          process.stderr.write(
            `${mode} round ${r + 1} ${s.label}: ${res.cpuMicrosPerRequest.toFixed(0)} µs/req, ${res.requestsPerSecond.toFixed(0)} req/s, other ${res.otherCores.toFixed(2)} cores\n`,
          )
        }
      }
      const floor = cpu.get('floor')!
      const first = cpu.get(started[1]?.label ?? 'floor')!
      console.log(`\n## ${mode} (${governed ? 'governed' : 'plain'}), µs CPU per request`)
      for (const [label, xs] of cpu) {
        const ratios = xs.map((x, i) => x / floor[i])
        const vsFirst = xs.map((x, i) => x / first[i])
        console.log(
          `${label}: median ${median(xs).toFixed(0)} (${xs.map((x) => x.toFixed(0)).join(' ')}), ÷ floor ${median(ratios).toFixed(2)}×, ÷ build 0 ${median(vsFirst).toFixed(3)}× (rounds ${vsFirst.map((r) => r.toFixed(2)).join(' ')})`,
        )
      }
    }
  } finally {
    measuredMs = Date.now() - measuredFrom
    for (const s of started.reverse()) await s.target.stop().catch(() => {})
    await stopAllChildren()
  }
  if (profile)
    for (const s of started) {
      if (!s.profileDir) continue
      const file = readdirSync(s.profileDir).find((f) => f.endsWith('.cpuprofile'))
      if (file)
        console.log(`\n## profile of ${s.label}\n${summarizeProfile(join(s.profileDir, file), measuredMs)}`)
    }
}

await main()
