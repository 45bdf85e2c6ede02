import type { Worker } from 'node:worker_threads'
import { startModuleWorker } from '../../core/module-worker.js'
import {
  DEFAULT_SANDBOX_LIMITS,
  type HostToolCall,
  type SandboxErrorKind,
  type SandboxLimits,
  type SandboxOutcome,
} from './interpreter.js'
import type { FromWorker, ToWorker } from './sandbox-worker.js'

/**
 * Runs a model's script off the gateway's event loop: in a worker thread (see sandbox-worker.ts and
 * interpreter.ts), so that a busy script never holds up other requests, and a worker that does not
 * stop by itself is terminated. Workers are kept warm and reused, one script at a time each.
 */

/** Scripts run at once per process (each may hold up to its heap limit); more wait their turn. */
export const MAX_CONCURRENT_SCRIPTS = 8
/** After its deadline, how long a script's worker has to stop by itself before it is terminated. */
const TERMINATE_GRACE_MS = 5_000
/** How long a worker may take to start and make an interpreter (seconds under load with tsx). */
const START_LIMIT_MS = 60_000
/** The worker's own JavaScript heap (tool results pass through it), apart from the interpreter's. */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 32 }

let running = 0
const queued: (() => void)[] = []

async function turn(): Promise<() => void> {
  if (running >= MAX_CONCURRENT_SCRIPTS) await new Promise<void>((resolve) => queued.push(resolve))
  running++
  return () => {
    running--
    queued.shift()?.()
  }
}

const idle: Worker[] = []

/** A new worker: the compiled worker module, or under tsx (tests, benchmarks) the TypeScript one. */
function spawn(): Worker {
  const worker = startModuleWorker(import.meta.url, './sandbox-worker', { resourceLimits: WORKER_LIMITS })
  // Idle workers do not keep the process alive.
  worker.unref()
  return worker
}

const stopped = (kind: SandboxErrorKind, message: string): SandboxOutcome => ({
  ok: false,
  kind,
  message,
  logs: [],
})

function runInWorker(
  code: string,
  servers: readonly string[],
  call: HostToolCall,
  limits: SandboxLimits,
  signal: AbortSignal | undefined,
): Promise<SandboxOutcome> {
  return new Promise<SandboxOutcome>((resolve) => {
    if (signal?.aborted) return resolve(stopped('runtime', 'the caller went away'))
    const worker = idle.pop() ?? spawn()
    const calls = new AbortController()
    let finished = false
    const finish = (outcome: SandboxOutcome, reusable: boolean) => {
      if (finished) return
      finished = true
      clearTimeout(backstop)
      signal?.removeEventListener('abort', onAbort)
      worker.off('message', onMessage)
      worker.off('error', onError)
      worker.off('exit', onExit)
      calls.abort()
      if (reusable) idle.push(worker)
      else worker.terminate().catch(() => undefined)
      resolve(outcome)
    }
    const send = (message: ToWorker) => {
      if (!finished) worker.postMessage(message)
    }
    const onMessage = (message: FromWorker) => {
      if (message.type === 'done') return finish(message.outcome, true)
      if (message.type === 'ready') {
        // The script's clock runs from here; the interpreter stops itself at its deadline.
        clearTimeout(backstop)
        backstop = setTimeout(
          () =>
            finish(
              stopped('timeout', `the script was stopped at its time limit of ${limits.timeoutMs} ms`),
              false,
            ),
          limits.timeoutMs + TERMINATE_GRACE_MS,
        )
        return
      }
      call(message.server, message.tool, message.input, calls.signal).then(
        (value) => send({ type: 'settle', id: message.id, ok: true, value: value ?? null }),
        (err: unknown) =>
          send({
            type: 'settle',
            id: message.id,
            ok: false,
            message: err instanceof Error ? err.message : String(err),
          }),
      )
    }
    const onError = (err: Error) =>
      finish(
        stopped(
          /heap|memory/i.test(err.message) ? 'memory' : 'runtime',
          `the sandbox stopped: ${err.message}`,
        ),
        false,
      )
    const onExit = () => finish(stopped('runtime', 'the sandbox stopped'), false)
    const onAbort = () => finish(stopped('runtime', 'the caller went away'), false)
    let backstop = setTimeout(
      () => finish(stopped('runtime', 'the sandbox did not start in time'), false),
      START_LIMIT_MS,
    )
    signal?.addEventListener('abort', onAbort, { once: true })
    worker.on('message', onMessage)
    worker.on('error', onError)
    worker.on('exit', onExit)
    worker.postMessage({ type: 'run', code, servers: [...servers], limits } satisfies ToWorker)
  })
}

export async function runSandboxed(
  code: string,
  servers: readonly string[],
  call: HostToolCall,
  limits: SandboxLimits = DEFAULT_SANDBOX_LIMITS,
  signal?: AbortSignal,
): Promise<SandboxOutcome> {
  const done = await turn()
  try {
    return await runInWorker(code, servers, call, limits, signal)
  } finally {
    done()
  }
}

/**
 * The limits `mcp.tool_manager_config` sets: Bifrost's `tool_execution_timeout` (seconds) and
 * Heimdall's `code_mode_memory_limit_mb`; unset or invalid fields keep the defaults.
 */
export function sandboxLimitsFromConfig(config: unknown): Partial<SandboxLimits> {
  const cfg = (typeof config === 'object' && config !== null ? config : {}) as Record<string, unknown>
  const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0
  const limits: Partial<SandboxLimits> = {}
  if (positive(cfg.tool_execution_timeout)) limits.timeoutMs = cfg.tool_execution_timeout * 1000
  if (positive(cfg.code_mode_memory_limit_mb))
    limits.memoryLimitBytes = Math.round(cfg.code_mode_memory_limit_mb * 1024 * 1024)
  return limits
}
