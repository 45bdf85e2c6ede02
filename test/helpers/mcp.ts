import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)

/** The entry point of `@modelcontextprotocol/server-everything` (stdio by default, `streamableHttp` with PORT). */
export const EVERYTHING = join(
  dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')),
  'dist',
  'index.js',
)

/** Heimdall's config entry for an HTTP MCP server that each caller logs in to (`per_user_oauth`). */
export const perUserOAuthClient = (name: string, url: string) => ({
  name,
  connection_type: 'http' as const,
  connection_string: url,
  auth_type: 'per_user_oauth' as const,
  tools_to_execute: ['*'],
})
