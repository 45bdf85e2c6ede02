import type { Tool } from '@modelcontextprotocol/sdk/types.js'
import { GatewayError } from '../../core/errors.js'
import type { McpCatalogSource, McpPrompt, McpResource, McpTool } from '../types.js'
import type { McpClientConfig } from './config.js'
import type { McpConnection } from './connection.js'
import { exposedToolNames } from './tool-names.js'

/** A tool under its exposed name, with every field its server declared kept in `definition`. */
export function toMcpTool(exposedName: string, cfg: McpClientConfig, tool: Tool): McpTool {
  const out: McpTool = {
    name: exposedName,
    client: cfg.name,
    toolName: tool.name,
    inputSchema: tool.inputSchema as Record<string, unknown>,
    definition: tool as Record<string, unknown>,
  }
  if (cfg.allow_on_all_virtual_keys) out.allowOnAllVirtualKeys = true
  if (cfg.allow_anonymous) out.allowAnonymous = true
  if (tool.description !== undefined) out.description = tool.description
  if (tool.annotations !== undefined) out.annotations = tool.annotations as Record<string, unknown>
  return out
}

/** The prompts and resources of the connected clients, with the connection that serves each. */
export interface CatalogIndex {
  prompts: Map<string, { prompt: McpPrompt; connection: McpConnection }>
  resources: McpResource[]
  resourceTemplates: McpResource[]
  /** Client name → its connection. */
  byClient: Map<string, McpConnection>
}

/**
 * Indexes the prompts and resources of connected clients. Prompts are exposed as
 * `<client>-<prompt>`, named the way tools are (tool-names.ts); resource URIs stay the server's
 * own, since tool results and prompts refer to them, and each is read through the client that
 * listed it.
 */
export function indexCatalog(connections: Iterable<McpConnection>): CatalogIndex {
  const index: CatalogIndex = {
    prompts: new Map(),
    resources: [],
    resourceTemplates: [],
    byClient: new Map(),
  }
  for (const connection of connections) {
    if (connection.state !== 'connected') continue
    const cfg = connection.config
    index.byClient.set(cfg.name, connection)
    const names = exposedToolNames(
      cfg.name,
      connection.prompts.map((p) => p.name),
    )
    for (const p of connection.prompts) {
      const name = names.get(p.name) ?? p.name
      const prompt = { name, client: cfg.name, promptName: p.name, definition: p as Record<string, unknown> }
      index.prompts.set(name, { prompt, connection })
    }
    for (const r of connection.resources)
      index.resources.push({ client: cfg.name, uri: r.uri, definition: r as Record<string, unknown> })
    for (const t of connection.resourceTemplates)
      index.resourceTemplates.push({
        client: cfg.name,
        uri: t.uriTemplate,
        definition: t as Record<string, unknown>,
      })
  }
  return index
}

/** Prompts and resources served from an index of the connected clients (rebuilt when they change). */
export function catalogSource(index: () => CatalogIndex): McpCatalogSource {
  const connectionOf = (client: string) => {
    const connection = index().byClient.get(client)
    if (!connection) throw new GatewayError('not_found', `MCP client ${client} is not connected`)
    return connection
  }
  return {
    listPrompts: () => [...index().prompts.values()].map((e) => e.prompt),
    getPrompt: async (name, args, opts = {}) => {
      const entry = index().prompts.get(name)
      if (!entry) throw new GatewayError('not_found', `MCP prompt ${name} not found`)
      return entry.connection.getPrompt(entry.prompt.promptName, args, opts)
    },
    listResources: () => index().resources,
    listResourceTemplates: () => index().resourceTemplates,
    readResource: async (client, uri, opts = {}) => connectionOf(client).readResource(uri, opts),
    complete: async (client, params, opts = {}) => connectionOf(client).complete(params, opts),
    watchResource: async (client, uri, listener, opts = {}) =>
      connectionOf(client).watchResource(uri, listener, opts),
  }
}
