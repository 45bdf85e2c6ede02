import {
  newQuickJSWASMModule,
  RELEASE_SYNC,
  type QuickJSContext,
  type QuickJSDeferredPromise,
  type QuickJSHandle,
} from 'quickjs-emscripten'

/**
 * A model's script in QuickJS compiled to WebAssembly: a fresh interpreter per run, with no file
 * system, network, timers or modules, a wall-clock deadline (checked inside loops by the interrupt
 * handler, and while waiting for tool calls) and a heap limit. The only way out is `call`, bridged
 * as promise-returning methods of one global object per server.
 */

/** The limits of one run, and what they are unless mcp config sets them. */
export const DEFAULT_SANDBOX_LIMITS = {
  /** Wall-clock limit of the whole script, tool calls included. */
  timeoutMs: 30_000,
  /** Heap limit of the interpreter. */
  memoryLimitBytes: 64 * 1024 * 1024,
  /** Longest stretch of script code between two awaited tool calls (an endless loop ends here). */
  maxBlockingMs: 1_000,
}

export type SandboxLimits = typeof DEFAULT_SANDBOX_LIMITS

/** Runs one tool call for the script: resolves with a JSON-serializable value, or throws (the script sees a rejection). */
export type HostToolCall = (
  server: string,
  tool: string,
  input: unknown,
  signal: AbortSignal,
) => Promise<unknown>

export type SandboxErrorKind = 'syntax' | 'runtime' | 'timeout' | 'memory'

export type SandboxOutcome =
  | { ok: true; value: unknown; logs: string[] }
  | { ok: false; kind: SandboxErrorKind; message: string; logs: string[] }

/** The interpreter's own call depth, below what the WebAssembly stack of the host can hold. */
const MAX_STACK_BYTES = 256 * 1024
const MAX_LOG_LINES = 500
const MAX_LOG_CHARS = 64 * 1024

/**
 * Installs `console` and the server objects, then removes the raw host functions from the global
 * scope. A server object answers any property with a tool function, so that a tool the caller may
 * not use is refused by the gateway (with its reason), not by a missing method.
 */
const BOOTSTRAP = `(() => {
  const call = globalThis.__heimdall_call, log = globalThis.__heimdall_log
  delete globalThis.__heimdall_call; delete globalThis.__heimdall_log
  const text = (v) => typeof v === 'string' ? v : (() => { try { return JSON.stringify(v) ?? String(v) } catch { return String(v) } })()
  const line = (level) => (...args) => log(level, args.map(text).join(' '))
  globalThis.console = { log: line('log'), info: line('info'), warn: line('warn'), error: line('error'), debug: line('debug') }
  for (const server of JSON.parse(globalThis.__heimdall_servers)) {
    globalThis[server] = new Proxy({}, {
      get: (_, tool) => typeof tool !== 'string' || tool === 'then' ? undefined
        : (input) => call(server, tool, JSON.stringify(input === undefined ? {} : input) ?? 'null').then((out) => JSON.parse(out)),
    })
  }
  delete globalThis.__heimdall_servers
})()`

function wrap(code: string): string {
  // A top-level `return` gives the result, as in Bifrost's code mode; `await` works at the top level.
  return `(async () => {\n${code}\n})().then((v) => JSON.stringify(v === undefined ? null : v) ?? 'null')`
}

function errorMessage(
  ctx: QuickJSContext,
  handle: QuickJSHandle,
  lines: number,
): { name: string; message: string } {
  const dumped: unknown = ctx.dump(handle)
  if (typeof dumped === 'object' && dumped !== null && 'message' in dumped) {
    const e = dumped as { name?: unknown; message?: unknown; stack?: unknown }
    const where = typeof e.stack === 'string' ? /script\.js:(\d+)/.exec(e.stack) : null
    // The script is wrapped in one line above it; past its end is the wrapper's own code.
    const line = where ? Number(where[1]) - 1 : 0
    const at = line >= 1 && line <= lines ? ` (line ${line})` : ''
    return {
      name: String(e.name ?? 'Error'),
      message: `${String(e.name ?? 'Error')}: ${String(e.message)}${at}`,
    }
  }
  return { name: 'Error', message: `Uncaught ${JSON.stringify(dumped)}` }
}

function kindOf(name: string, message: string, timedOut: boolean): SandboxErrorKind {
  if (timedOut || message.startsWith('InternalError: interrupted')) return 'timeout'
  if (/out of memory/i.test(message)) return 'memory'
  return name === 'SyntaxError' ? 'syntax' : 'runtime'
}

/** Runs one script in a fresh interpreter, here (sandbox.ts runs it in a worker thread). */
export async function interpret(
  code: string,
  servers: readonly string[],
  call: HostToolCall,
  limits: SandboxLimits,
  signal: AbortSignal | undefined,
  /** Told when the interpreter is ready and the script's clock starts. */
  onReady?: () => void,
): Promise<SandboxOutcome> {
  const logs: string[] = []
  let logChars = 0
  const lines = code.split('\n').length
  // The clock starts once the interpreter is ready (instantiating it takes a few ms, more under load).
  let deadline = Infinity
  const calls = new AbortController()
  let sliceStart = Date.now()
  const timedOut = () => Date.now() > deadline || Date.now() - sliceStart > limits.maxBlockingMs
  const stopped = () => timedOut() || signal?.aborted === true

  const module = await newQuickJSWASMModule(RELEASE_SYNC)
  deadline = Date.now() + limits.timeoutMs
  onReady?.()
  sliceStart = Date.now()
  const runtime = module.newRuntime()
  runtime.setMemoryLimit(limits.memoryLimitBytes)
  runtime.setMaxStackSize(MAX_STACK_BYTES)
  runtime.setInterruptHandler(stopped)
  const ctx = runtime.newContext()
  let finished = false
  let wake: () => void = () => undefined
  const pending = new Set<QuickJSDeferredPromise>()

  // Whatever stopped the script, a caller that went away is the reason.
  const fail = (kind: SandboxErrorKind, message: string): SandboxOutcome =>
    signal?.aborted
      ? { ok: false, kind: 'runtime', message: 'the caller went away', logs }
      : { ok: false, kind, message, logs }
  const timeoutMessage = () =>
    Date.now() > deadline
      ? `the script was stopped at its time limit of ${limits.timeoutMs} ms (tool calls that take too long, or an endless loop)`
      : `the script was stopped after running ${limits.maxBlockingMs} ms without awaiting a tool call (an endless loop?)`

  try {
    ctx
      .newFunction('__heimdall_log', (levelHandle, textHandle) => {
        const level = ctx.getString(levelHandle)
        const text = ctx.getString(textHandle)
        if (logs.length < MAX_LOG_LINES && logChars < MAX_LOG_CHARS) {
          const entry = level === 'log' || level === 'info' ? text : `[${level}] ${text}`
          logs.push(entry.slice(0, MAX_LOG_CHARS - logChars))
          logChars += entry.length
        }
      })
      .consume((fn) => ctx.setProp(ctx.global, '__heimdall_log', fn))
    ctx
      .newFunction('__heimdall_call', (serverHandle, toolHandle, inputHandle) => {
        const server = ctx.getString(serverHandle)
        const tool = ctx.getString(toolHandle)
        const input: unknown = JSON.parse(ctx.getString(inputHandle))
        const deferred = ctx.newPromise()
        pending.add(deferred)
        const settle = (ok: boolean, text: string) => {
          pending.delete(deferred)
          if (finished) return
          if (ok) ctx.newString(text).consume((h) => deferred.resolve(h))
          else ctx.newError(text).consume((h) => deferred.reject(h))
          wake()
        }
        call(server, tool, input, calls.signal).then(
          (value) => settle(true, JSON.stringify(value ?? null)),
          (err: unknown) => settle(false, err instanceof Error ? err.message : String(err)),
        )
        return deferred.handle
      })
      .consume((fn) => ctx.setProp(ctx.global, '__heimdall_call', fn))
    ctx.newString(JSON.stringify(servers)).consume((h) => ctx.setProp(ctx.global, '__heimdall_servers', h))
    ctx.unwrapResult(ctx.evalCode(BOOTSTRAP, 'bootstrap.js')).dispose()

    sliceStart = Date.now()
    const started = ctx.evalCode(wrap(code), 'script.js')
    if (started.error) {
      const e = started.error.consume((h) => errorMessage(ctx, h, lines))
      const kind = kindOf(e.name, e.message, timedOut())
      return fail(kind, kind === 'timeout' ? timeoutMessage() : e.message)
    }
    const promise = started.value
    try {
      for (;;) {
        if (signal?.aborted) return fail('runtime', 'stopped')
        sliceStart = Date.now()
        const jobs = runtime.executePendingJobs()
        if (jobs.error) {
          const e = jobs.error.consume((h) => errorMessage(ctx, h, lines))
          return fail(kindOf(e.name, e.message, timedOut()), timedOut() ? timeoutMessage() : e.message)
        }
        const state = ctx.getPromiseState(promise)
        if (state.type === 'fulfilled') {
          const text = state.value.consume((h) => ctx.getString(h))
          return { ok: true, value: JSON.parse(text) as unknown, logs }
        }
        if (state.type === 'rejected') {
          const e = state.error.consume((h) => errorMessage(ctx, h, lines))
          const kind = kindOf(e.name, e.message, timedOut())
          return fail(kind, kind === 'timeout' ? timeoutMessage() : e.message)
        }
        if (Date.now() > deadline) return fail('timeout', timeoutMessage())
        if (pending.size === 0)
          return fail('runtime', 'the script awaits a promise that never settles (no tool call is under way)')
        // Wait for a tool call to settle, the deadline, or the caller to go away.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()) + 1)
          const onAbort = () => resolve()
          signal?.addEventListener('abort', onAbort, { once: true })
          wake = () => {
            clearTimeout(timer)
            signal?.removeEventListener('abort', onAbort)
            resolve()
          }
        })
        wake()
      }
    } finally {
      promise.dispose()
    }
  } catch (err) {
    // The host's own WebAssembly stack or memory ran out: the interpreter is discarded below.
    const message = err instanceof Error ? err.message : String(err)
    return fail(/memory/i.test(message) ? 'memory' : 'runtime', message)
  } finally {
    finished = true
    calls.abort()
    try {
      for (const deferred of pending) deferred.dispose()
      ctx.dispose()
      runtime.dispose()
    } catch {
      // A run stopped mid-way may leave handles behind; its interpreter is thrown away anyway.
    }
  }
}
