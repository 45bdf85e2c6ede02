// The `heimdall-cluster` target: three Heimdall nodes (dist/cli.js) sharing a PostgreSQL database of
// the run's own (bench_<pid>, dropped after) and a redis-server of its own on a free port (killed
// after), each request carrying a virtual key with a budget and a rate limit, logged with bodies.
// The load is split over the nodes, one autocannon per node, so each node's CPU is divided by the
// requests that node served. Redis round trips per request are counted apart from the load, with
// MONITOR on (which slows Redis, so never during a measurement): sequential requests, each client
// command (not those a Lua script runs) placed by its time before the answer's first byte (the hot
// path), while the answer is sent, or after it; the nodes' idle rate (epoch checks) is taken off.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { Pool } from 'undici'
import { CHARGE_LUA, READ_LUA, RESERVE_LUA, SEED_LUA, SETTLE_LUA } from '../src/cluster/counter-scripts.js'
import { startOwnRedis, type OwnRedis } from '../test/helpers/redis-server.js'
import {
  CHAT_PATH,
  requestBody,
  saturate,
  verifyAnswer,
  type LoadTarget,
  type Mode,
  type SaturationResult,
} from './load.js'
import { freePort, startNode, stopChild, waitUntilReady, type RunningChild } from './processes.js'
import { BENCH_VIRTUAL_KEY, heimdallCli, heimdallConfig, type BenchContext } from './targets.js'

export const CLUSTER_TARGET = 'heimdall-cluster'
/** The same three nodes on BENCH_BEFORE_CLI's build, when named in BENCH_TARGETS. */
export const CLUSTER_BEFORE_TARGET = 'heimdall-cluster-before'
const NODES = 3

/** The PostgreSQL server to create the run's database on; its own database is only used to do so. */
function adminDatabaseUrl(): string {
  return (
    process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  )
}

export interface ClusterRound {
  /** One per node, in node order. */
  nodes: SaturationResult[]
}

/** Redis commands sent by the nodes per request (each one round trip), by when they were sent. */
export interface RedisTrace {
  requests: number
  /** Before the answer's first byte: what the request waits for. */
  beforeFirstByte: Record<string, number>
  /** While the answer is being sent (a stream's chunks). */
  duringAnswer: Record<string, number>
  /** After the answer's last byte (settling, logging), within a second. */
  afterAnswer: Record<string, number>
}

export interface ClusterResult {
  /** CLUSTER_TARGET or CLUSTER_BEFORE_TARGET. */
  target: string
  mode: Mode
  rounds: ClusterRound[]
  redis?: RedisTrace
  problems: string[]
}

export interface RunningCluster {
  nodes: LoadTarget[]
  redis: OwnRedis
  stop(): Promise<void>
}

/** Why the cluster cannot run here, or undefined. */
export async function clusterUnavailableBecause(
  ctx: BenchContext,
  cli = heimdallCli(ctx),
): Promise<string | undefined> {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
  } catch {
    return 'redis-server is not installed'
  }
  const client = new pg.Client({ connectionString: adminDatabaseUrl(), connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
  } catch (err) {
    return `PostgreSQL at BENCH_DATABASE_URL or DATABASE_URL not reachable (${(err as Error).message})`
  } finally {
    await client.end().catch(() => {})
  }
  return existsSync(cli) ? undefined : `${cli} not found; run \`npm run build\` first`
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl() })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/**
 * Node flags for node `index`: a 32 MB young generation and BENCH_NODE_ARGS for every node, and with
 * BENCH_PROFILE=1 a CPU profile of node 1 alone, written to bench/out/<name>-1.cpuprofile.
 */
function nodeArgs(ctx: BenchContext, name: string, index: number): string[] {
  // As bench/targets.ts's Heimdall targets, and as `npm start` and the `heimdall` command start it.
  const extra = [
    '--max-semi-space-size=32',
    ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  ]
  if (!ctx.profileHeimdall || index !== 0) return extra
  const profile = ['--cpu-prof', '--cpu-prof-dir', ctx.outDir, '--cpu-prof-name', `${name}-1.cpuprofile`]
  return [...extra, ...profile]
}

export interface ClusterOptions {
  /** Names the nodes' logs and profiles (`<name>-1` ...); defaults to CLUSTER_TARGET. */
  name?: string
  /** The build's dist/cli.js; defaults to heimdallCli(ctx). */
  cli?: string
}

export async function startCluster(ctx: BenchContext, opts: ClusterOptions = {}): Promise<RunningCluster> {
  const name = opts.name ?? CLUSTER_TARGET
  const cli = opts.cli ?? heimdallCli(ctx)
  const database = `bench_${process.pid}_${name.replace(/\W/g, '_')}`
  const children: RunningChild[] = []
  const dirs: string[] = []
  let redis: OwnRedis | undefined
  let created = false
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(stopChild))
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
    await redis?.stop()
    if (created) await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {})
  }
  try {
    await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    await adminQuery(`CREATE DATABASE ${database}`)
    created = true
    redis = await startOwnRedis()
    const url = new URL(adminDatabaseUrl())
    url.pathname = `/${database}`
    const config = {
      ...heimdallConfig(ctx, true),
      config_store: { enabled: true, type: 'postgres', config: { connection_string: url.toString() } },
      cluster: { redis_url: redis.url },
    }
    const nodes: LoadTarget[] = []
    // One at a time: the first node creates the schema.
    for (let i = 0; i < NODES; i++) {
      const appDir = await mkdtemp(join(tmpdir(), `heimdall-bench-node${i}-`))
      dirs.push(appDir)
      await writeFile(join(appDir, 'config.json'), JSON.stringify(config, null, 2))
      const port = await freePort()
      const args = ['--app-dir', appDir, '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn']
      const child = startNode({
        name: `${name}-${i + 1}`,
        args: [...nodeArgs(ctx, name, i), cli, ...args],
        cwd: ctx.repoRoot,
        logDir: ctx.outDir,
      })
      children.push(child)
      const origin = `http://127.0.0.1:${port}`
      await waitUntilReady(child, `${origin}/health`, 60_000)
      nodes.push({
        name: `node ${i + 1}`,
        origin,
        headers: { 'x-bf-vk': BENCH_VIRTUAL_KEY },
        cpuPid: child.pid,
        upstreamPid: ctx.upstream.pid,
      })
    }
    return { nodes, redis, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Checks each node's answer and warms them up together; the problems found, if any. */
export async function checkAndWarmCluster(
  cluster: RunningCluster,
  mode: Mode,
  options: { seconds: number; connections: number },
): Promise<string[]> {
  const problems: string[] = []
  for (const node of cluster.nodes) {
    const check = await verifyAnswer(node, mode)
    if (check.status !== 200 || check.problem) problems.push(`${node.name}: ${check.problem ?? check.status}`)
  }
  if (problems.length === 0) await saturateCluster(cluster, mode, options)
  return problems
}

/** All nodes at once, the connections shared out. */
export async function saturateCluster(
  cluster: RunningCluster,
  mode: Mode,
  options: { seconds: number; connections: number },
): Promise<ClusterRound> {
  const perNode = Math.max(1, Math.round(options.connections / cluster.nodes.length))
  const nodes = await Promise.all(
    cluster.nodes.map((node) => saturate(node, mode, { seconds: options.seconds, connections: perNode })),
  )
  return { nodes }
}

interface MonitoredCommand {
  /** When Redis ran it, on our performance.now() clock. */
  atMs: number
  name: string
}

/** The counters' scripts by SHA1, so that an EVALSHA is named after what it does. */
const SCRIPTS = new Map(
  Object.entries({
    reserve: RESERVE_LUA,
    settle: SETTLE_LUA,
    read: READ_LUA,
    charge: CHARGE_LUA,
    seed: SEED_LUA,
  }).map(([name, lua]) => [createHash('sha1').update(lua).digest('hex'), name]),
)

/** `evalsha reserve` rather than `evalsha`: a reserve is waited for, a settle is not (GovernanceHook.onEnd). */
function commandName(command: string, firstArg: string | undefined): string {
  const name = command.toLowerCase()
  const script = name === 'evalsha' && firstArg ? SCRIPTS.get(firstArg) : undefined
  return script ? `${name} ${script}` : name
}

/**
 * Every command a client of this Redis sends while `during` runs (commands run by Lua scripts left
 * out). A raw connection: MONITOR's replies are lines like `+1733.5 [0 127.0.0.1:5050] "EVALSHA" ...`.
 */
async function monitorCommands(
  redis: OwnRedis,
  clockOffsetMs: number,
  during: () => Promise<void>,
): Promise<MonitoredCommand[]> {
  const seen: MonitoredCommand[] = []
  const socket = connect(redis.port, '127.0.0.1')
  await once(socket, 'connect')
  let buffered = ''
  let started: () => void = () => {}
  const ok = new Promise<void>((resolve) => (started = resolve))
  socket.setEncoding('utf8').on('data', (data: string) => {
    buffered += data
    const lines = buffered.split('\r\n')
    buffered = lines.pop() ?? ''
    for (const line of lines) {
      if (line === '+OK') started()
      const match = /^\+(\d+\.\d+) \[\d+ ([^\]]+)\] "([^"]+)"(?: "([^"]+)")?/.exec(line)
      if (match && match[2] !== 'lua')
        seen.push({ atMs: Number(match[1]) * 1000 - clockOffsetMs, name: commandName(match[3], match[4]) })
    }
  })
  socket.on('error', () => {})
  socket.write('MONITOR\r\n')
  await ok
  try {
    await during()
  } finally {
    socket.destroy()
  }
  return seen
}

/** Redis's clock minus ours (performance.now()), in ms: MONITOR stamps commands with Redis's time. */
async function redisClockOffsetMs(redis: OwnRedis): Promise<number> {
  let best = { rtt: Infinity, offset: 0 }
  for (let i = 0; i < 5; i++) {
    const sent = performance.now()
    const [seconds, micros] = await redis.client().time()
    const received = performance.now()
    const serverMs = Number(seconds) * 1000 + Number(micros) / 1000
    if (received - sent < best.rtt) best = { rtt: received - sent, offset: serverMs - (sent + received) / 2 }
  }
  return best.offset
}

function perRequest(
  counts: Map<string, number>,
  idle: Map<string, number>,
  requests: number,
): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [name, n] of counts) {
    const calls = (n - (idle.get(name) ?? 0)) / requests
    if (calls >= 0.01) out[name] = calls
  }
  return out
}

/**
 * Sends `requests` requests one after the other, round-robin over the nodes, and counts the Redis
 * commands the nodes sent before each answer's first byte, during it and after it.
 */
export async function traceRedisRoundTrips(
  cluster: RunningCluster,
  mode: Mode,
  requests = 200,
): Promise<RedisTrace> {
  const pools = cluster.nodes.map((node) => new Pool(node.origin, { connections: 1 }))
  const windows: { start: number; firstByte: number; end: number }[] = []
  let idleMs = 0
  const nowMs = (): number => performance.now()
  const offset = await redisClockOffsetMs(cluster.redis)
  const commands = await monitorCommands(cluster.redis, offset, async () => {
    // The nodes' own background commands over a quiet second, to subtract at the same rate.
    await sleep(1000)
    idleMs = 1000
    for (let i = 0; i < requests; i++) {
      const node = cluster.nodes[i % cluster.nodes.length]
      const start = nowMs()
      const res = await pools[i % pools.length].request({
        path: CHAT_PATH,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...node.headers },
        body: requestBody(mode),
      })
      const firstByte = nowMs()
      await res.body.arrayBuffer()
      windows.push({ start, firstByte, end: nowMs() })
    }
    await sleep(1000) // settles and log writes that follow the last answer
  })
  await Promise.all(pools.map((p) => p.close()))
  const loadStart = windows[0]?.start ?? 0
  const loadEnd = (windows.at(-1)?.end ?? 0) + 1000
  const idle = new Map<string, number>()
  const before = new Map<string, number>()
  const during = new Map<string, number>()
  const after = new Map<string, number>()
  const add = (m: Map<string, number>, name: string, n = 1): void => void m.set(name, (m.get(name) ?? 0) + n)
  let w = 0
  for (const c of commands.sort((a, b) => a.atMs - b.atMs)) {
    if (c.atMs < loadStart) {
      add(idle, c.name)
      continue
    }
    if (c.atMs > loadEnd) continue
    while (w < windows.length - 1 && c.atMs > windows[w + 1].start) w++
    const win = windows[w]
    if (c.atMs <= win.firstByte) add(before, c.name)
    else if (c.atMs <= win.end) add(during, c.name)
    else add(after, c.name)
  }
  // The idle commands, at their quiet-second rate, taken off each phase by the time spent in it.
  const beforeMs = windows.reduce((sum, x) => sum + x.firstByte - x.start, 0)
  const duringMs = windows.reduce((sum, x) => sum + x.end - x.firstByte, 0)
  const afterMs = loadEnd - loadStart - beforeMs - duringMs
  const idleFor = (ms: number): Map<string, number> =>
    new Map([...idle].map(([name, n]) => [name, (n * ms) / idleMs]))
  return {
    requests: windows.length,
    beforeFirstByte: perRequest(before, idleFor(beforeMs), windows.length),
    duringAnswer: perRequest(during, idleFor(duringMs), windows.length),
    afterAnswer: perRequest(after, idleFor(afterMs), windows.length),
  }
}
