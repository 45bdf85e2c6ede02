import { describe, expect, it } from 'vitest'
import type { SandboxLimits } from './interpreter.js'
import { MAX_CONCURRENT_SCRIPTS, runSandboxed, sandboxLimitsFromConfig } from './sandbox.js'

const limits: SandboxLimits = { timeoutMs: 2_000, memoryLimitBytes: 16 * 1024 * 1024, maxBlockingMs: 1_000 }
const noTools = () => Promise.reject(new Error('no tools here'))

describe('the code-mode sandbox', () => {
  it('returns the script’s value and console output, and passes tool calls out and back', async () => {
    const seen: unknown[] = []
    const out = await runSandboxed(
      "console.log('a', { b: 1 }); console.warn('careful'); const r = await srv.add({ x: 2 }); return r.sum * 10",
      ['srv'],
      async (server, tool, input) => {
        seen.push([server, tool, input])
        return { sum: 3 }
      },
      limits,
    )
    expect(out).toEqual({ ok: true, value: 30, logs: ['a {"b":1}', '[warn] careful'] })
    expect(seen).toEqual([['srv', 'add', { x: 2 }]])
  })

  it('turns a failed tool call into an exception the script can catch', async () => {
    const out = await runSandboxed(
      'try { await srv.boom({}) } catch (e) { return "caught: " + e.message }',
      ['srv'],
      noTools,
      limits,
    )
    expect(out).toMatchObject({ ok: true, value: 'caught: no tools here' })
  })

  it('stops a script waiting on a tool call past its time limit, and aborts the call', async () => {
    let signal: AbortSignal | undefined
    const out = await runSandboxed(
      'return await srv.slow({})',
      ['srv'],
      (_s, _t, _i, s) => {
        signal = s
        return new Promise(() => undefined)
      },
      { ...limits, timeoutMs: 300 },
    )
    expect(out).toMatchObject({ ok: false, kind: 'timeout' })
    expect(signal?.aborted).toBe(true)
  })

  it('says so when a script awaits something that can never settle', async () => {
    const out = await runSandboxed('await new Promise(() => {})', [], noTools, limits)
    expect(out).toMatchObject({ ok: false, kind: 'runtime' })
    expect(!out.ok && out.message).toContain('never settles')
  })

  it('stops when the caller goes away', async () => {
    const caller = new AbortController()
    const run = runSandboxed(
      'return await srv.slow({})',
      ['srv'],
      () => new Promise(() => undefined),
      limits,
      caller.signal,
    )
    setTimeout(() => caller.abort(), 5)
    expect(await run).toMatchObject({ ok: false, message: 'the caller went away' })
  })

  it('offers no way out but the tool calls', async () => {
    const out = await runSandboxed(
      'return [typeof fetch, typeof require, typeof process, typeof setTimeout, typeof __heimdall_call, typeof std, typeof os]',
      [],
      noTools,
      limits,
    )
    expect(out).toMatchObject({ ok: true, value: Array(7).fill('undefined') })
  })

  it('runs at most MAX_CONCURRENT_SCRIPTS scripts at once; the others wait their turn', async () => {
    let inside = 0
    let most = 0
    const hold = async () => {
      most = Math.max(most, ++inside)
      await new Promise((r) => setTimeout(r, 300))
      inside--
      return 1
    }
    const runs = Array.from({ length: MAX_CONCURRENT_SCRIPTS + 4 }, () =>
      runSandboxed('return await srv.hold({})', ['srv'], hold, limits),
    )
    const outcomes = await Promise.all(runs)
    expect(outcomes.filter((o) => !o.ok)).toEqual([])
    expect(most).toBeLessThanOrEqual(MAX_CONCURRENT_SCRIPTS)
    expect(most).toBeGreaterThan(1)
  })

  it('reads its limits from mcp.tool_manager_config', () => {
    expect(sandboxLimitsFromConfig({ tool_execution_timeout: 5, code_mode_memory_limit_mb: 8 })).toEqual({
      timeoutMs: 5_000,
      memoryLimitBytes: 8 * 1024 * 1024,
    })
    expect(sandboxLimitsFromConfig({ tool_execution_timeout: -1, code_mode_memory_limit_mb: 'x' })).toEqual(
      {},
    )
    expect(sandboxLimitsFromConfig(undefined)).toEqual({})
  })
})
