import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { freePort } from './helpers/free-port.js'

/**
 * `npm test` without Redis or PostgreSQL stops at once with one line per missing service (the
 * globalSetup test/global-setup/require-services.ts), rather than failing every test that needs it.
 * Runs vitest itself, on a small test file, with REDIS_URL pointing at a closed port.
 */

async function runVitest(env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; ms: number }> {
  // The child is a vitest of its own, not a worker of this one.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')))
  const started = performance.now()
  const child = spawn(
    process.execPath,
    ['node_modules/vitest/vitest.mjs', 'run', 'test/page-headers.test.ts', '--reporter=default'],
    { env: { ...clean, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), 45_000)
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  clearTimeout(timer)
  return { code, out, ms: performance.now() - started }
}

describe('the test run’s service check', () => {
  it('stops at once with one line saying how to start Redis when REDIS_URL is closed', async () => {
    const port = await freePort()
    const { code, out } = await runVitest({ REDIS_URL: `redis://127.0.0.1:${port}` })
    expect(code).toBe(1)
    const lines = out.split('\n').filter((l) => l.startsWith('✗ '))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(`✗ Redis at redis://127.0.0.1:${port} is not reachable (connect ECONNREFUSED`)
    for (const how of ['apt-get install -y redis-server', 'brew install redis', 'docker run', 'REDIS_URL']) {
      expect(lines[0]).toContain(how)
    }
    // No test ran.
    expect(out).not.toMatch(/Tests\s+\d+ passed/)
  }, 60_000)

  it('lets the run go on when both services answer', async () => {
    const { code, out } = await runVitest({})
    expect(out).not.toContain('✗ ')
    expect(code).toBe(0)
    expect(out).toMatch(/Tests\s+3 passed/)
  }, 60_000)
})
