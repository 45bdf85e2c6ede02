import type { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js'
import {
  CompleteRequestSchema,
  ErrorCode as RpcErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CompleteResult,
  type GetPromptResult,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplate,
} from '@modelcontextprotocol/sdk/types.js'
import { asGatewayError } from '../core/errors.js'
import { scopedResources, type McpScope } from './scope.js'
import type { McpCatalogSource, McpPrompt, McpRequestOptions } from './types.js'

/** What a request handler is given besides the request: its cancellation and HTTP headers. */
export interface RequestExtra {
  signal: AbortSignal
  requestInfo?: { headers: Record<string, string | string[] | undefined> }
}

/** MCP's "resource not found" error code. */
const RESOURCE_NOT_FOUND = -32002

/** The prompts a scope opens, as /mcp lists them: every declared field, the name exposed. */
export function listedPrompts(catalog: McpCatalogSource, scope: McpScope): McpPrompt[] {
  return catalog.listPrompts().filter((p) => scope.clientItem(p.client, p.promptName))
}

/** An upstream failure as the JSON-RPC error the caller gets. */
function rpcFailure(err: unknown): McpError {
  if (err instanceof McpError) return err
  const e = asGatewayError(err)
  const cause = e.cause
  // The upstream's own JSON-RPC error (unknown prompt argument, …) keeps its code.
  if (cause instanceof McpError) return new McpError(cause.code, cause.message, cause.data)
  return new McpError(e.status < 500 ? RpcErrorCode.InvalidRequest : RpcErrorCode.InternalError, e.message)
}

/** Which client serves a URI for this scope: a listed resource, else the first template it matches. */
function clientOfUri(catalog: McpCatalogSource, scope: McpScope, uri: string): string | undefined {
  const listed = scopedResources(scope, catalog.listResources()).find((r) => r.uri === uri)
  if (listed) return listed.client
  return scopedResources(scope, catalog.listResourceTemplates()).find((t) => {
    try {
      return new UriTemplate(t.uri).match(uri) !== null
    } catch {
      return false
    }
  })?.client
}

/**
 * Serves upstream prompts and resources on an MCP server, within a scope: `prompts/list`,
 * `prompts/get`, `resources/list`, `resources/templates/list`, `resources/read` and
 * `completion/complete`, `resources/subscribe` / `unsubscribe` (updates go out as `notifications/resources/updated`, on a
 * session's GET stream; subscriptions end with the server).
 */
export function servePromptsAndResources(
  server: Server,
  catalog: McpCatalogSource,
  callerOf: (extra: RequestExtra) => { scope: McpScope; options: McpRequestOptions },
): void {
  server.setRequestHandler(ListPromptsRequestSchema, (_req, extra) => ({
    prompts: listedPrompts(catalog, callerOf(extra).scope).map(
      (p) => ({ ...p.definition, name: p.name }) as Prompt,
    ),
  }))
  server.setRequestHandler(GetPromptRequestSchema, async (req, extra) => {
    const { scope, options } = callerOf(extra)
    const prompt = listedPrompts(catalog, scope).find((p) => p.name === req.params.name)
    if (!prompt) throw new McpError(RpcErrorCode.InvalidParams, `MCP prompt ${req.params.name} not found`)
    try {
      return (await catalog.getPrompt(prompt.name, req.params.arguments ?? {}, options)) as GetPromptResult
    } catch (err) {
      throw rpcFailure(err)
    }
  })
  server.setRequestHandler(ListResourcesRequestSchema, (_req, extra) => ({
    resources: scopedResources(callerOf(extra).scope, catalog.listResources()).map(
      (r) => r.definition as Resource,
    ),
  }))
  server.setRequestHandler(ListResourceTemplatesRequestSchema, (_req, extra) => ({
    resourceTemplates: scopedResources(callerOf(extra).scope, catalog.listResourceTemplates()).map(
      (t) => t.definition as ResourceTemplate,
    ),
  }))
  const watching = new Map<string, () => void>()
  const stopAll = () => {
    for (const stop of watching.values()) stop()
    watching.clear()
  }
  const closed = server.onclose
  server.onclose = () => {
    stopAll()
    closed?.()
  }
  server.setRequestHandler(SubscribeRequestSchema, async (req, extra) => {
    const { scope, options } = callerOf(extra)
    const { uri } = req.params
    const client = clientOfUri(catalog, scope, uri)
    if (!client) throw new McpError(RESOURCE_NOT_FOUND, `Resource not found: ${uri}`, { uri })
    if (watching.has(uri)) return {}
    try {
      const updated = () => {
        server.sendResourceUpdated({ uri }).catch(() => undefined)
      }
      watching.set(uri, await catalog.watchResource(client, uri, updated, options))
    } catch (err) {
      throw rpcFailure(err)
    }
    return {}
  })
  server.setRequestHandler(UnsubscribeRequestSchema, (req) => {
    watching.get(req.params.uri)?.()
    watching.delete(req.params.uri)
    return {}
  })
  server.setRequestHandler(CompleteRequestSchema, async (req, extra) => {
    const { scope, options } = callerOf(extra)
    const { ref } = req.params
    let client: string | undefined
    let upstreamRef: typeof ref = ref
    if (ref.type === 'ref/prompt') {
      const prompt = listedPrompts(catalog, scope).find((p) => p.name === ref.name)
      if (!prompt) throw new McpError(RpcErrorCode.InvalidParams, `MCP prompt ${ref.name} not found`)
      client = prompt.client
      upstreamRef = { ...ref, name: prompt.promptName }
    } else {
      client = scopedResources(scope, catalog.listResourceTemplates()).find((t) => t.uri === ref.uri)?.client
      if (!client) throw new McpError(RpcErrorCode.InvalidParams, `resource template ${ref.uri} not found`)
    }
    try {
      return (await catalog.complete(client, { ...req.params, ref: upstreamRef }, options)) as CompleteResult
    } catch (err) {
      throw rpcFailure(err)
    }
  })
  server.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
    const { scope, options } = callerOf(extra)
    const client = clientOfUri(catalog, scope, req.params.uri)
    if (!client)
      throw new McpError(RESOURCE_NOT_FOUND, `Resource not found: ${req.params.uri}`, { uri: req.params.uri })
    try {
      return (await catalog.readResource(client, req.params.uri, options)) as ReadResourceResult
    } catch (err) {
      throw rpcFailure(err)
    }
  })
}
