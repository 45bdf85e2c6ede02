import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/** Running the built `heimdall` command as a child process, for the CLI and multi-node tests. */

export const ROOT = resolve(import.meta.dirname, '..', '..')
export const CLI = join(ROOT, 'dist', 'cli.js')

/** Whether dist/ is missing or older than a source file (the build info is rewritten by every build). */
export function buildIsStale(): boolean {
  const info = join(ROOT, 'dist', '.tsbuildinfo')
  if (!existsSync(CLI) || !existsSync(info)) return true
  const built = statSync(info).mtimeMs
  return readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .some((f) => statSync(join(ROOT, 'src', f)).mtimeMs > built)
}

/**
 * Builds dist/ when it is missing or stale. Type errors do not stop tsc from emitting (type checking
 * is tsconfig.check.json's job); a build info left without its outputs is started over.
 */
export function build(): void {
  if (!buildIsStale()) return
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  let report = ''
  const run = () => {
    try {
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' })
    } catch (err) {
      report = String((err as { stdout?: Buffer }).stdout ?? err)
    }
  }
  run()
  if (!existsSync(CLI)) {
    rmSync(join(ROOT, 'dist', '.tsbuildinfo'), { force: true })
    run()
  }
  if (!existsSync(CLI)) throw new Error(`the build produced no ${CLI}:\n${report}`)
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface RunningCli {
  proc: ChildProcess
  output(): string
  stdout(): string
  exited: Promise<Exit>
  /** The URL from the "listening" log line. */
  url(): Promise<string>
}

/** Every child started, so that a test can make sure none is left behind. */
export const children: RunningCli[] = []

/** The environment of the test run without any HEIMDALL_ / BIFROST_ setting that would steer the child. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(HEIMDALL|BIFROST)_/.test(k)) env[k] = v
  }
  return { ...env, ...extra }
}

export function runCli(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string } = {},
): RunningCli {
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: cleanEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let all = ''
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
    all += d
  })
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (all += d))
  const exited = new Promise<Exit>((resolveExit) =>
    proc.on('exit', (code, signal) => resolveExit({ code, signal })),
  )
  const child: RunningCli = {
    proc,
    output: () => all,
    stdout: () => stdout,
    exited,
    async url() {
      const deadline = Date.now() + 25_000
      for (;;) {
        const m = /Heimdall listening on (http:\/\/[^\s"]+)/.exec(all)
        if (m) return m[1]
        if (proc.exitCode !== null || proc.signalCode !== null)
          throw new Error(`heimdall exited before listening:\n${all}`)
        if (Date.now() > deadline) throw new Error(`heimdall did not start within 25 s:\n${all}`)
        await sleep(25)
      }
    },
  }
  children.push(child)
  return child
}

/**
 * Starts a `heimdall` node in an app dir of its own (made under the system's temp dir, recorded in
 * `dirs` for the caller to remove) with this config.json, and waits until it listens.
 */
export async function startNodeWithConfig(
  config: Record<string, unknown>,
  label: string,
  dirs: string[],
): Promise<{ node: RunningCli; url: string }> {
  const dir = await mkdtemp(join(tmpdir(), `heimdall-${label}-`))
  dirs.push(dir)
  await writeFile(join(dir, 'config.json'), JSON.stringify(config))
  const node = runCli(['--app-dir', dir, '--port', '0', '--log-level', 'info'])
  return { node, url: await node.url() }
}

/** Kills nodes started with {@link startNodeWithConfig}, waits (5 s at most each) and removes their app dirs. */
export async function stopNodes(nodes: RunningCli[], dirs: string[]): Promise<void> {
  for (const n of nodes) if (alive(n)) n.proc.kill('SIGKILL')
  await Promise.all(nodes.map((n) => Promise.race([n.exited, sleep(5000)])))
  for (const d of dirs) await rm(d, { recursive: true, force: true })
}

/** An OpenAI provider pointed at a fake, for the child-process nodes' config.json. */
export const fakeOpenAIConfig = (baseUrl: string) => ({
  keys: [{ name: 'k', value: 'sk-test', models: ['*'] }],
  network_config: { base_url: baseUrl },
})

export const alive = (c: RunningCli) => c.proc.exitCode === null && c.proc.signalCode === null
