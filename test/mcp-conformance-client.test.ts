import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { killRunningChildren, ROOT, runNode, type NodeRun } from './helpers/node-child.js'

/** Pinned to 0.1.13 (see test/mcp-conformance.test.ts). */
const CONFORMANCE = 'node_modules/@modelcontextprotocol/conformance/dist/index.js'
const BASELINE = join(ROOT, 'test', 'mcp-conformance-client-baseline.yml')
const DRIVER = 'node_modules/.bin/tsx test/conformance-client/heimdall-auth-client.ts'

/** Every auth scenario of `conformance list` (0.1.13), run two at a time (2 cores). */
const SCENARIOS = [
  'auth/metadata-default',
  'auth/metadata-var1',
  'auth/metadata-var2',
  'auth/metadata-var3',
  'auth/basic-cimd',
  'auth/scope-from-www-authenticate',
  'auth/scope-from-scopes-supported',
  'auth/scope-omitted-when-undefined',
  'auth/scope-step-up',
  'auth/scope-retry-limit',
  'auth/token-endpoint-auth-basic',
  'auth/token-endpoint-auth-post',
  'auth/token-endpoint-auth-none',
  'auth/resource-mismatch',
  'auth/pre-registration',
  'auth/2025-03-26-oauth-metadata-backcompat',
  'auth/2025-03-26-oauth-endpoint-fallback',
  'auth/client-credentials-jwt',
  'auth/client-credentials-basic',
]

interface Check {
  id: string
  status: string
  details?: Record<string, unknown>
}

/** The checks of the one scenario run written to `outDir`. */
async function readChecks(outDir: string): Promise<Check[]> {
  const [dir] = await readdir(join(outDir, 'auth'))
  return JSON.parse(await readFile(join(outDir, 'auth', dir, 'checks.json'), 'utf8')) as Check[]
}

/** The `client:` entries of the baseline (one `  - name # reason` per line), each with its reason. */
async function baseline(): Promise<Map<string, string>> {
  const section = (await readFile(BASELINE, 'utf8')).split(/^client:\s*$/m)[1] ?? ''
  return new Map([...section.matchAll(/^\s+-\s+([\w/.-]+)\s*#\s*(.+)$/gm)].map((m) => [m[1], m[2]]))
}

/**
 * The official MCP conformance suite's client auth scenarios, with Heimdall as the OAuth client of
 * the suite's MCP servers and authorization servers, driven only through Heimdall's API (admin
 * verification, a virtual key's tool call, its login link, the call again). Each scenario runs
 * with --expected-failures: a new failure, or a baselined scenario that starts passing, fails.
 */
describe('MCP conformance suite: client auth scenarios against Heimdall as OAuth client', () => {
  const outDirs: string[] = []
  afterAll(async () => {
    killRunningChildren()
    for (const dir of outDirs) await rm(dir, { recursive: true, force: true })
  })

  it('passes every auth scenario but the baselined ones, each baselined with a reason', async () => {
    const expected = await baseline()
    for (const [scenario, reason] of expected) {
      expect(SCENARIOS).toContain(scenario)
      expect(reason.length).toBeGreaterThan(20)
    }
    const outcome: Record<string, string> = {}
    const runs: Record<string, NodeRun> = {}
    // Two scenarios at a time: each has its own suite servers (port 0), Heimdall and out dir.
    const queue = [...SCENARIOS]
    const runNext = async (): Promise<void> => {
      for (let scenario = queue.shift(); scenario; scenario = queue.shift()) {
        const outDir = await mkdtemp(join(tmpdir(), 'heimdall-conformance-client-'))
        outDirs.push(outDir)
        runs[scenario] = await runNode(
          CONFORMANCE,
          [
            'client',
            '--command',
            DRIVER,
            '--scenario',
            scenario,
            '--timeout',
            '60000',
            '--expected-failures',
            BASELINE,
            '-o',
            outDir,
          ],
          90_000,
        )
        // A run cut short has no checks.json; its exit code and output are asserted below.
        const checks = await readChecks(outDir).catch(() => undefined)
        const bad = checks?.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING').map((c) => c.id)
        outcome[scenario] = !bad
          ? `no checks.json (exit ${runs[scenario].code}${runs[scenario].timedOut ? ', killed after 90 s' : ''})`
          : bad.length === 0
            ? 'passed'
            : `failed: ${bad.join(', ')}`
      }
    }
    await Promise.all([runNext(), runNext()])
    for (const scenario of SCENARIOS) {
      const run = runs[scenario]
      // Exit 0 with --expected-failures: failing exactly when baselined.
      expect(run.code, `${scenario}\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`).toBe(0)
      expect(outcome[scenario], scenario).not.toMatch(/^no checks/)
      expect(outcome[scenario].startsWith('failed'), `${scenario}: ${outcome[scenario]}`).toBe(
        expected.has(scenario),
      )
    }
    const passed = Object.values(outcome).filter((o) => o === 'passed').length
    console.info(`conformance client auth: ${passed}/${SCENARIOS.length} passed`, outcome)
    expect(passed).toBe(SCENARIOS.length - expected.size)
  }, 900_000)

  it('steps up to the union of the scopes on 403 insufficient_scope (the baselined scenario)', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'heimdall-conformance-client-'))
    outDirs.push(outDir)
    await runNode(
      CONFORMANCE,
      ['client', '--command', DRIVER, '--scenario', 'auth/scope-step-up', '--timeout', '60000', '-o', outDir],
      90_000,
    )
    const checks = await readChecks(outDir)
    const scopes = checks
      .filter((c) => c.id === 'authorization-request')
      .map((c) => (c.details?.query as { scope?: string }).scope)
    // Admin verification, the key's first login, its step-up.
    expect(scopes).toEqual(['mcp:basic', 'mcp:basic', 'mcp:basic mcp:write'])
  }, 120_000)
})
