// What the logging benchmarks (logging.ts, log-growth.ts) share: a Heimdall process in front of the
// fake upstream, and autocannon's chat load on it.
import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { CHAT_PATH, requestBody, type Mode } from './load.js'
import { freePort, startNode, waitUntilReady, type RunningChild } from './processes.js'

export const benchDir = dirname(fileURLToPath(import.meta.url))
export const repoRoot = dirname(benchDir)
export const outDir = join(benchDir, 'out')

export interface Gateway {
  origin: string
  child: RunningChild
}

/** Heimdall's config: the `client` settings given, and OpenAI at the fake upstream. */
export async function writeGatewayConfig(
  appDir: string,
  client: Record<string, unknown>,
  upstreamOrigin: string,
): Promise<void> {
  const providers = {
    openai: {
      keys: [{ name: 'bench', value: 'sk-bench', models: ['*'], weight: 1 }],
      network_config: { base_url: upstreamOrigin },
    },
  }
  await writeFile(join(appDir, 'config.json'), JSON.stringify({ client, providers }))
}

/** Starts Heimdall (dist/cli.js unless `cli`) on a free loopback port and waits until it is ready. */
export async function startGateway(opts: {
  name: string
  appDir: string
  cli?: string
  nodeArgs?: string[]
}): Promise<Gateway> {
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const cli = opts.cli ?? join(repoRoot, 'dist', 'cli.js')
  const child = startNode({
    name: opts.name,
    args: [
      ...(opts.nodeArgs ?? []),
      cli,
      '--app-dir',
      opts.appDir,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--log-level',
      'warn',
    ],
    cwd: repoRoot,
    logDir: outDir,
  })
  await waitUntilReady(child, `${origin}/health`, 60_000)
  return { origin, child }
}

/** The benchmark's chat requests for `seconds`, or `amount` of them, over `connections`. */
export async function chatLoad(
  origin: string,
  mode: Mode,
  opts: { seconds?: number; amount?: number; connections: number },
): Promise<{ completed: number; failed: number }> {
  const result = await autocannon({
    url: origin + CHAT_PATH,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-anything' },
    body: requestBody(mode),
    connections: opts.connections,
    pipelining: 1,
    ...(opts.seconds !== undefined ? { duration: opts.seconds } : { amount: opts.amount }),
    timeout: 10,
  })
  return { completed: result.requests.total, failed: result.non2xx + result.errors }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
