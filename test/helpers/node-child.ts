import { spawn, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'

/** Running an npm package's script under this Node as a bounded child process (the MCP tool tests). */

export const ROOT = resolve(import.meta.dirname, '..', '..')

export interface NodeRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  timedOut: boolean
  ms: number
}

const running = new Set<ChildProcess>()

/** `node <script> ...args` from the repo root; SIGKILLed when it outlives `timeoutMs`. */
export function runNode(script: string, args: string[], timeoutMs: number): Promise<NodeRun> {
  const started = Date.now()
  const child = spawn(process.execPath, [resolve(ROOT, script), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  })
  running.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, timeoutMs)
  return new Promise((done, fail) => {
    child.on('error', (err) => {
      clearTimeout(timer)
      running.delete(child)
      fail(err)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      done({ code, signal, stdout, stderr, timedOut, ms: Date.now() - started })
    })
  })
}

/** Kills any child of runNode still alive (for afterAll); returns how many there were. */
export function killRunningChildren(): number {
  const n = running.size
  for (const child of running) child.kill('SIGKILL')
  running.clear()
  return n
}
