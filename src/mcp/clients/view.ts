import type { Tool } from '@modelcontextprotocol/sdk/types.js'
import { redactSecret } from '../../store/index.js'
import { mapClientSecrets, type McpClientConfig } from './config.js'
import type { McpConnection, McpConnectionState } from './connection.js'
import { exposedToolNames } from './tool-names.js'

/** A tool as Bifrost's client list shows it (ChatToolFunction), under its exposed name. */
export interface McpToolFunction {
  name: string
  description?: string
  parameters: Record<string, unknown>
}

/**
 * A client's state as the API shows it: a per_user_oauth client is `pending_verification` until an
 * admin verification (POST /api/mcp/client/{id}/initiate-verification) let its tools be listed.
 */
export type McpClientState = McpConnectionState | 'pending_verification'

/** One client as `GET /api/mcp/clients` shows it; `error` is Heimdall's addition. */
export interface McpClientView {
  config: McpClientConfig
  tools: McpToolFunction[]
  state: McpClientState
  /** Why the client is not connected, when it is not. */
  error?: string
  vk_configs: never[]
}

/** What the manager knows of a per_user_oauth client beyond its connection. */
export interface PerUserFacts {
  /** The tools the last identity connection (or the admin verification) found. */
  tools: Tool[] | undefined
  verified: boolean
  verifyError: string | undefined
}

/** A client as the API shows it: its config with secrets redacted, its tools under their exposed names. */
export function clientView(c: McpConnection, perUserFacts: PerUserFacts): McpClientView {
  const config: McpClientConfig = c.config
  const perUser = config.auth_type === 'per_user_oauth'
  const tools = perUser ? (perUserFacts.tools ?? []) : c.tools
  const names = exposedToolNames(
    config.name,
    tools.map((t) => t.name),
  )
  let state: McpClientState = c.state
  let error = c.lastError
  if (perUser && !config.disabled) {
    state = perUserFacts.verified ? 'connected' : 'pending_verification'
    error = perUserFacts.verifyError
  }
  const view: McpClientView = {
    config: mapClientSecrets(config, redactSecret),
    tools: tools.map((t) => ({
      name: names.get(t.name) ?? t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      parameters: t.inputSchema as Record<string, unknown>,
    })),
    state,
    vk_configs: [],
  }
  if (state !== 'connected' && error !== undefined) view.error = error
  return view
}
