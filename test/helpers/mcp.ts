import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from './free-port.js'
import type { RunningHeimdall } from './heimdall.js'

const require = createRequire(import.meta.url)

/** The entry point of `@modelcontextprotocol/server-everything` (stdio by default, `streamableHttp` with PORT). */
export const EVERYTHING = join(
  dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')),
  'dist',
  'index.js',
)

/** Heimdall's config entry for the reference server over stdio, every tool allowed; `extra` on top. */
export const everythingClient = (extra: Record<string, unknown> = {}) => ({
  name: 'everything',
  connection_type: 'stdio' as const,
  stdio_config: { command: process.execPath, args: [EVERYTHING] },
  tools_to_execute: ['*'],
  ...extra,
})

/** Waits until the gateway lists `tool` among its MCP tools, polling every `everyMs` (200 times at most). */
export async function waitForTool(gw: RunningHeimdall, tool: string, everyMs = 50): Promise<void> {
  for (let i = 0; i < 200 && !gw.heimdall.mcp.listTools().some((t) => t.name === tool); i++)
    await sleep(everyMs)
}

/** Heimdall's config entry for an HTTP MCP server that each caller logs in to (`per_user_oauth`). */
export const perUserOAuthClient = (name: string, url: string) => ({
  name,
  connection_type: 'http' as const,
  connection_string: url,
  auth_type: 'per_user_oauth' as const,
  tools_to_execute: ['*'],
})

/** A PKCE verifier and its S256 challenge, as an OAuth client makes them. */
export function pkce() {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

// The package's `exports` maps package.json to dist/cjs/package.json.
const OAUTH_EXAMPLE = join(
  require.resolve('@modelcontextprotocol/sdk/package.json'),
  '..',
  '..',
  'esm',
  'examples',
  'server',
  'simpleStreamableHttp.js',
)

/**
 * The MCP SDK's example server in `--oauth-strict` mode (RFC 9728 discovery, dynamic registration,
 * PKCE S256, an auto-approving /authorize) on free ports, once it answers; killed if it never does.
 */
export async function startExampleOAuthServer(): Promise<{ url: string; child: ChildProcess }> {
  const [port, authPort] = [await freePort(), await freePort()]
  const child = spawn(process.execPath, [OAUTH_EXAMPLE, '--oauth', '--oauth-strict'], {
    env: { ...process.env, MCP_PORT: String(port), MCP_AUTH_PORT: String(authPort) },
    stdio: 'ignore',
  })
  const url = `http://localhost:${port}/mcp`
  for (let i = 0; i < 100; i++) {
    const answer = await fetch(url, { method: 'POST' }).catch(() => undefined)
    if (answer) return { url, child }
    await sleep(100)
  }
  child.kill('SIGKILL')
  throw new Error('the example OAuth MCP server did not start')
}
