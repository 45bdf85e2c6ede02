import { spawn, type ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { freePort } from './free-port.js'

/**
 * A redis-server of a test's own, on a free loopback port, with no persistence: the test can stop
 * it and start an empty one on the same port (Redis restarted without its data), or freeze it
 * (SIGSTOP) and thaw it (SIGCONT). Never the shared Redis: faults there would break other tests.
 */
export interface OwnRedis {
  url: string
  port: number
  /** Kills it and starts an empty one on the same port. */
  restartEmpty(): Promise<void>
  /** Kills it (SIGKILL); `up()` starts an empty one on the same port. */
  down(): Promise<void>
  up(): Promise<void>
  freeze(): void
  thaw(): void
  /** A plain client for reading keys (closed by stop()). */
  client(): Redis
  stop(): Promise<void>
}

const running = new Set<ChildProcess>()

function spawnRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  running.add(child)
  child.on('exit', () => running.delete(child))
  return new Promise((done, fail) => {
    let out = ''
    const timer = setTimeout(() => fail(new Error(`redis-server on ${port} did not start: ${out}`)), 10_000)
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer)
        done(child)
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      fail(new Error(`redis-server on ${port} exited (${code}): ${out}`))
    })
  })
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((done) => child.once('exit', done))
  child.kill('SIGCONT')
  child.kill('SIGKILL')
  await exited
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort()
  let child = await spawnRedis(port)
  const url = `redis://127.0.0.1:${port}`
  let reader: Redis | undefined
  return {
    url,
    port,
    async restartEmpty() {
      await kill(child)
      child = await spawnRedis(port)
    },
    down: () => kill(child),
    async up() {
      child = await spawnRedis(port)
    },
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
    client() {
      if (!reader) {
        reader = new Redis(url, { maxRetriesPerRequest: 1 })
        reader.on('error', () => undefined)
      }
      return reader
    },
    async stop() {
      reader?.disconnect()
      await kill(child)
    },
  }
}

/** Kills every redis-server a test started and did not stop (for afterAll, even after a failure). */
export async function killOwnRedises(): Promise<void> {
  await Promise.all([...running].map(kill))
}
