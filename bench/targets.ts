// What is measured: the fake upstream itself, the floor proxy, Heimdall plain and governed, an older
// Heimdall build beside it (BENCH_BEFORE_CLI), and (when installed) Portkey. Three nodes on PostgreSQL
// and Redis are bench/cluster.ts's.
// Each proxy runs in its own process, in front of the one shared fake upstream.
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import type { LoadTarget } from './load.js'
import {
  freePort,
  readyOrStopped,
  startNode,
  stopChild,
  waitUntilReady,
  type RunningChild,
} from './processes.js'

export interface BenchContext {
  repoRoot: string
  benchDir: string
  outDir: string
  upstream: { origin: string; pid: number }
  /** Start Heimdall under `--cpu-prof`, writing its profile to outDir. */
  profileHeimdall: boolean
}

type BenchPaths = Pick<BenchContext, 'repoRoot' | 'benchDir' | 'outDir'>

export interface StartedTarget {
  load: LoadTarget
  /** Heimdall's app dir (config.json, logs.db), for the targets that have one. */
  appDir?: string
  stop(): Promise<void>
}

export interface TargetDefinition {
  name: string
  /** Why this target cannot run here, or undefined when it can. */
  unavailableBecause(ctx: BenchContext): string | undefined
  start(ctx: BenchContext): Promise<StartedTarget>
}

const CLIENT_AUTHORIZATION = 'Bearer sk-anything'

function originOf(port: number): string {
  return `http://127.0.0.1:${port}`
}

function ownScript(ctx: BenchPaths, name: string, script: string, args: string[]): RunningChild {
  return startNode({
    name,
    args: ['--import', 'tsx', join(ctx.benchDir, script), ...args],
    cwd: ctx.repoRoot,
    logDir: ctx.outDir,
    ipc: true,
  })
}

/** The fake upstream, started once and shared by every target. */
export async function startFakeUpstream(ctx: BenchPaths): Promise<{ child: RunningChild; origin: string }> {
  const port = await freePort()
  const child = ownScript(ctx, 'fake-upstream', 'fake-upstream.ts', ['--port', String(port)])
  await readyOrStopped(child, `${originOf(port)}/health`)
  return { child, origin: originOf(port) }
}

const direct: TargetDefinition = {
  name: 'direct',
  unavailableBecause: () => undefined,
  async start(ctx) {
    // No proxy: the client talks to the fake itself, whose CPU is then the one reported.
    return {
      load: {
        name: 'direct',
        origin: ctx.upstream.origin,
        headers: { authorization: CLIENT_AUTHORIZATION },
        cpuPid: ctx.upstream.pid,
        upstreamPid: ctx.upstream.pid,
      },
      stop: async () => {},
    }
  },
}

const floor: TargetDefinition = {
  name: 'floor',
  unavailableBecause: () => undefined,
  async start(ctx) {
    const port = await freePort()
    const args = ['--port', String(port), '--upstream', ctx.upstream.origin]
    const child = ownScript(ctx, 'floor-proxy', 'floor-proxy.ts', args)
    await readyOrStopped(child, `${originOf(port)}/health`)
    return {
      load: {
        name: 'floor',
        origin: originOf(port),
        headers: { authorization: CLIENT_AUTHORIZATION },
        cpuPid: child.pid,
        upstreamPid: ctx.upstream.pid,
      },
      stop: () => stopChild(child),
    }
  },
}

/** BENCH_HEIMDALL_CLI points at another build, e.g. a worktree's, to compare two versions. */
export function heimdallCli(ctx: BenchPaths): string {
  return process.env.BENCH_HEIMDALL_CLI ?? join(ctx.repoRoot, 'dist', 'cli.js')
}

/** BENCH_BEFORE_CLI: an older build measured in the same run as the `-before` targets. */
function beforeCli(): string | undefined {
  return process.env.BENCH_BEFORE_CLI || undefined
}

/** The governed target's virtual key: what a client of a governed gateway sends. */
export const BENCH_VIRTUAL_KEY = 'sk-bf-bench0000000000000000000000000000000000'

/**
 * Heimdall's config for a target. Plain: one OpenAI key, no virtual key (every request is still
 * logged with its bodies, Heimdall's default). Governed: as a governed deployment runs it, every
 * request must carry a virtual key that has a budget and a rate limit (requests and tokens), so
 * each request is admitted, reserved, charged and logged with bodies.
 */
export function heimdallConfig(ctx: BenchContext, governed: boolean): Record<string, unknown> {
  const providers = {
    openai: {
      keys: [{ name: 'bench', value: 'sk-bench', models: ['*'], weight: 1 }],
      network_config: { base_url: ctx.upstream.origin },
    },
  }
  if (!governed) return { providers }
  return {
    client: { enable_logging: true, disable_content_logging: false, enforce_auth_on_inference: true },
    providers,
    governance: {
      budgets: [{ id: 'bench-budget', max_limit: 1_000_000_000, reset_duration: '1M' }],
      rate_limits: [
        {
          id: 'bench-limit',
          request_max_limit: 1_000_000_000,
          request_reset_duration: '1h',
          token_max_limit: 1_000_000_000_000,
          token_reset_duration: '1h',
        },
      ],
      virtual_keys: [
        {
          id: 'bench-vk',
          name: 'bench',
          value: BENCH_VIRTUAL_KEY,
          is_active: true,
          budget_id: 'bench-budget',
          rate_limit_id: 'bench-limit',
          provider_configs: [{ provider: 'openai', weight: 1, allowed_models: ['*'], key_ids: ['*'] }],
        },
      ],
    },
  }
}

function heimdallTarget(name: string, governed: boolean, before = false): TargetDefinition {
  const cliOf = (ctx: BenchContext): string | undefined => (before ? beforeCli() : heimdallCli(ctx))
  return {
    name,
    unavailableBecause: (ctx) => {
      const cli = cliOf(ctx)
      if (!cli) return 'BENCH_BEFORE_CLI is not set (the dist/cli.js of an older build to compare with)'
      return existsSync(cli) ? undefined : `${relative(ctx.repoRoot, cli)} not found; build it first`
    },
    async start(ctx) {
      const cli = cliOf(ctx) as string
      const appDir = await mkdtemp(join(tmpdir(), 'heimdall-bench-'))
      await writeFile(join(appDir, 'config.json'), JSON.stringify(heimdallConfig(ctx, governed), null, 2))
      const port = await freePort()
      const profile = ctx.profileHeimdall ? ['--cpu-prof', '--cpu-prof-dir', ctx.outDir] : []
      // BENCH_NODE_ARGS: extra node flags for Heimdall's process, e.g. "--trace-gc" (its output goes to bench/out).
      // Heimdall runs as `npm start` and the `heimdall` command start it: with a 32 MB young generation.
      const nodeArgs = [
        '--max-semi-space-size=32',
        ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
      ]
      const cliArgs = [
        '--app-dir',
        appDir,
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        '--log-level',
        'warn',
      ]
      const child = startNode({
        name,
        args: [...nodeArgs, ...profile, cli, ...cliArgs],
        cwd: ctx.repoRoot,
        logDir: ctx.outDir,
      })
      const stop = async (): Promise<void> => {
        await stopChild(child)
        await rm(appDir, { recursive: true, force: true })
      }
      try {
        await waitUntilReady(child, `${originOf(port)}/health`)
      } catch (err) {
        await stop()
        throw err
      }
      return {
        load: {
          name,
          origin: originOf(port),
          headers: governed
            ? ({ 'x-bf-vk': BENCH_VIRTUAL_KEY } as Record<string, string>)
            : { authorization: CLIENT_AUTHORIZATION },
          cpuPid: child.pid,
          upstreamPid: ctx.upstream.pid,
          metricsUrl: `${originOf(port)}/metrics`,
        },
        appDir,
        stop,
      }
    },
  }
}

function portkeyEntry(ctx: BenchContext): string {
  return join(ctx.benchDir, '.portkey', 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js')
}

const portkey: TargetDefinition = {
  name: 'portkey',
  unavailableBecause: (ctx) =>
    existsSync(portkeyEntry(ctx)) ? undefined : 'not installed; run bench/install-portkey.sh to include it',
  async start(ctx) {
    const port = await freePort()
    const child = startNode({
      name: 'portkey',
      args: [
        '--import',
        'tsx',
        '--import',
        join(ctx.benchDir, 'listen-on-loopback.ts'),
        portkeyEntry(ctx),
        `--port=${port}`,
        '--headless',
      ],
      cwd: ctx.repoRoot,
      logDir: ctx.outDir,
      env: { ...process.env, NODE_ENV: 'production' },
    })
    await readyOrStopped(child, `${originOf(port)}/`)
    return {
      load: {
        name: 'portkey',
        origin: originOf(port),
        headers: {
          authorization: CLIENT_AUTHORIZATION,
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': `${ctx.upstream.origin}/v1`,
        },
        cpuPid: child.pid,
        upstreamPid: ctx.upstream.pid,
      },
      stop: () => stopChild(child),
    }
  },
}

/** In the order they are measured: direct first, since every other target is compared with it. */
export const TARGETS: readonly TargetDefinition[] = [
  direct,
  floor,
  heimdallTarget('heimdall', false),
  heimdallTarget('heimdall-governed', true),
  heimdallTarget('heimdall-before', false, true),
  heimdallTarget('heimdall-governed-before', true, true),
  portkey,
]
