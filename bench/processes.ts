// Child processes of the benchmark: each target runs in its own process so that its CPU can be read
// from /proc, and every one of them is stopped when the harness ends, however it ends.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export interface ChildSpec {
  name: string
  args: string[]
  cwd: string
  logDir: string
  env?: NodeJS.ProcessEnv
  /** Our own scripts exit when the IPC channel closes, so they cannot outlive a killed harness. */
  ipc?: boolean
}

export interface RunningChild {
  name: string
  pid: number
  logPath: string
  process: ChildProcess
  exited: Promise<void>
}

const running = new Set<RunningChild>()
const STOP_GRACE_MS = 5_000

/** Starts `node <args>`; stdout and stderr go to `<logDir>/<name>.log` so a failure can be shown. */
export function startNode(spec: ChildSpec): RunningChild {
  const logPath = join(spec.logDir, `${spec.name}.log`)
  const logFd = openSync(logPath, 'w')
  const child = spawn(process.execPath, spec.args, {
    cwd: spec.cwd,
    env: spec.env ?? process.env,
    stdio: spec.ipc ? ['ignore', logFd, logFd, 'ipc'] : ['ignore', logFd, logFd],
  })
  closeSync(logFd)
  if (child.pid === undefined) throw new Error(`could not start ${spec.name}`)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const entry: RunningChild = { name: spec.name, pid: child.pid, logPath, process: child, exited }
  running.add(entry)
  void exited.then(() => running.delete(entry))
  return entry
}

export function logTail(child: RunningChild, lines = 20): string {
  try {
    return readFileSync(child.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/** Polls `url` until it answers 200; fails early if the child exits. */
// A minute: on a 2-core machine shared with builds and tests, a governed Heimdall took over 20 s to start.
export async function waitUntilReady(child: RunningChild, url: string, timeoutMs = 60_000): Promise<void> {
  let exited = false
  void child.exited.then(() => (exited = true))
  const deadline = Date.now() + timeoutMs
  let lastProblem = 'no answer yet'
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${child.name} exited before it was ready:\n${logTail(child)}`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) })
      await res.arrayBuffer()
      if (res.status === 200) return
      lastProblem = `status ${res.status}`
    } catch (err) {
      lastProblem = (err as Error).message
    }
    await sleep(100)
  }
  throw new Error(
    `${child.name} not ready at ${url} after ${timeoutMs} ms (${lastProblem}):\n${logTail(child)}`,
  )
}

/** Like waitUntilReady, but a child that never becomes ready is stopped rather than left running. */
export async function readyOrStopped(child: RunningChild, url: string): Promise<void> {
  try {
    await waitUntilReady(child, url)
  } catch (err) {
    await stopChild(child)
    throw err
  }
}

/** SIGTERM first so that a profiled process can write its profile; SIGKILL if it lingers. */
export async function stopChild(child: RunningChild): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return
  child.process.kill('SIGTERM')
  const timer = setTimeout(() => child.process.kill('SIGKILL'), STOP_GRACE_MS)
  await child.exited
  clearTimeout(timer)
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running].map(stopChild))
}

/** Last resort for a synchronous exit path: no waiting is possible there. */
export function killAllChildrenNow(): void {
  for (const child of running) child.process.kill('SIGKILL')
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
