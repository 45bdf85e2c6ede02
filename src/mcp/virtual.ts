import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { GatewayContext } from '../core/context.js'
import { GatewayError } from '../core/errors.js'
import { headersAdmitTool } from './access.js'
import type { McpScope } from './scope.js'
import type { McpTool, McpToolSource } from './types.js'

/** One server's part of a Virtual MCP: all its tools (`["*"]`) or those named (by their name on it). */
export const VirtualMcpToolSpecSchema = Type.Object({
  mcp_client_id: Type.String({ minLength: 1 }),
  tool_names: Type.Array(Type.String({ minLength: 1 })),
})

const SLUG = '^[a-z0-9]+(?:-[a-z0-9]+)*$'

/** Bifrost's create body (`POST /api/mcp/virtual-mcps`, config.json `mcp.virtual_mcps[]`). */
export const VirtualMcpCreateSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  endpoint_slug: Type.Optional(Type.String({ pattern: SLUG, maxLength: 100 })),
  description: Type.Optional(Type.String()),
  enabled: Type.Optional(Type.Boolean()),
  tools: Type.Optional(Type.Array(VirtualMcpToolSpecSchema)),
  virtual_key_ids: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
})

/** Bifrost's update body: scalars kept when omitted, arrays replaced when sent; the slug never changes. */
export const VirtualMcpUpdateSchema = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  endpoint_slug: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  enabled: Type.Optional(Type.Boolean()),
  tools: Type.Optional(Type.Array(VirtualMcpToolSpecSchema)),
  virtual_key_ids: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
})

export type VirtualMcpToolSpec = Static<typeof VirtualMcpToolSpecSchema>
export type VirtualMcpCreateInput = Static<typeof VirtualMcpCreateSchema>
export type VirtualMcpUpdateInput = Static<typeof VirtualMcpUpdateSchema>

/** A Virtual MCP as Bifrost's API shows it. */
export interface VirtualMcp {
  id: number
  name: string
  endpoint_slug: string
  description?: string
  enabled: boolean
  tools: VirtualMcpToolSpec[]
  virtual_key_ids: string[]
  created_at: string
  updated_at: string
}

/** Where Virtual MCPs persist: one value of the config store's key-value table. */
export interface VirtualMcpStore {
  getValue<T>(key: string): Promise<T | undefined>
  setValue(key: string, value: unknown): Promise<void>
}

export interface VirtualMcpsOptions {
  store?: VirtualMcpStore
  /** The MCP clients configured now, by id and name (a spec may name either). */
  clients: () => { client_id: string; name: string }[]
  /** Whether a virtual key id exists; attaching an unknown one is refused. */
  virtualKeyExists?: (id: string) => boolean
}

const STORE_KEY = 'mcp.virtual_mcps'
const checkCreate = TypeCompiler.Compile(VirtualMcpCreateSchema)

/** The slug Bifrost derives from a name: lower case, runs of other characters as one hyphen. */
export function slugOf(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
}

/**
 * Virtual MCPs (Bifrost's `mcp.virtual_mcps`, formerly tool groups): named bundles of tools from
 * several MCP clients, each served at `/mcp/<endpoint_slug>` to the virtual keys attached to it.
 * Kept in memory, persisted as one value of the config store; the store wins over config.json once
 * a Virtual MCP of that name exists.
 */
export class VirtualMcps {
  private items: VirtualMcp[] = []
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly opts: VirtualMcpsOptions) {}

  /**
   * Loads the stored ones, then adds each config.json entry (`mcp.virtual_mcps`) whose name is not
   * stored yet. An entry that is not a valid Virtual MCP throws, naming it.
   */
  async load(fileEntries: readonly unknown[] = []): Promise<void> {
    await this.sync()
    for (const [i, entry] of fileEntries.entries()) {
      if (!checkCreate.Check(entry)) {
        const first = checkCreate.Errors(entry).First()
        throw new Error(
          `mcp.virtual_mcps[${i}]${first ? `${first.path.replace(/\//g, '.')}: ${first.message}` : ''}`,
        )
      }
      if (this.items.some((v) => v.name === entry.name)) continue
      await this.create(entry, { checkClients: false })
    }
  }

  /** Reads them again from the store (another node changed them). */
  async sync(): Promise<void> {
    const stored = await this.opts.store?.getValue<VirtualMcp[]>(STORE_KEY)
    if (stored) this.items = stored
  }

  list(): VirtualMcp[] {
    return this.items
  }

  get(id: number): VirtualMcp {
    const found = this.items.find((v) => v.id === id)
    if (!found) throw new GatewayError('not_found', 'virtual MCP not found')
    return found
  }

  bySlug(slug: string): VirtualMcp | undefined {
    return this.items.find((v) => v.endpoint_slug === slug)
  }

  create(input: VirtualMcpCreateInput, opts = { checkClients: true }): Promise<VirtualMcp> {
    return this.change(() => {
      const slug = input.endpoint_slug ?? slugOf(input.name)
      if (slug === '')
        throw new GatewayError(
          'invalid_request',
          'endpoint_slug is required when the name has no letter or digit',
          {
            param: 'endpoint_slug',
          },
        )
      this.assertFree(input.name, slug, undefined)
      if (opts.checkClients) this.assertClients(input.tools ?? [])
      this.assertKeys(input.virtual_key_ids ?? [])
      const now = new Date().toISOString()
      const item: VirtualMcp = {
        id: Math.max(0, ...this.items.map((v) => v.id)) + 1,
        name: input.name,
        endpoint_slug: slug,
        ...(input.description !== undefined && { description: input.description }),
        enabled: input.enabled ?? true,
        tools: input.tools ?? [],
        virtual_key_ids: [...new Set(input.virtual_key_ids ?? [])],
        created_at: now,
        updated_at: now,
      }
      return { items: [...this.items, item], result: item }
    })
  }

  update(id: number, input: VirtualMcpUpdateInput): Promise<VirtualMcp> {
    return this.change(() => {
      const current = this.get(id)
      if (input.name !== undefined) this.assertFree(input.name, undefined, id)
      if (input.tools) this.assertClients(input.tools)
      if (input.virtual_key_ids) this.assertKeys(input.virtual_key_ids)
      // endpoint_slug is immutable: a body that carries one is not an error, it is ignored.
      const next: VirtualMcp = {
        ...current,
        ...(input.name !== undefined && { name: input.name }),
        ...(input.description !== undefined && { description: input.description }),
        ...(input.enabled !== undefined && { enabled: input.enabled }),
        ...(input.tools !== undefined && { tools: input.tools }),
        ...(input.virtual_key_ids !== undefined && { virtual_key_ids: [...new Set(input.virtual_key_ids)] }),
        updated_at: new Date().toISOString(),
      }
      return { items: this.items.map((v) => (v.id === id ? next : v)), result: next }
    })
  }

  remove(id: number): Promise<VirtualMcp> {
    return this.change(() => {
      const current = this.get(id)
      return { items: this.items.filter((v) => v.id !== id), result: current }
    })
  }

  /** Attaches a virtual key (`attached`) or detaches it. */
  setKey(id: number, vkId: string, attached: boolean): Promise<VirtualMcp> {
    return this.change(() => {
      const current = this.get(id)
      if (attached) this.assertKeys([vkId])
      const ids = current.virtual_key_ids.filter((k) => k !== vkId)
      const next = { ...current, virtual_key_ids: attached ? [...ids, vkId] : ids }
      return { items: this.items.map((v) => (v.id === id ? next : v)), result: next }
    })
  }

  /** Applies one change after the others, persisting it before it is seen. */
  private change<T>(f: () => { items: VirtualMcp[]; result: T }): Promise<T> {
    const run = this.queue.then(async () => {
      const { items, result } = f()
      try {
        await this.opts.store?.setValue(STORE_KEY, items)
      } catch (err) {
        throw new GatewayError('store_unavailable', 'the config store did not accept the virtual MCP', {
          cause: err,
        })
      }
      this.items = items
      return result
    })
    this.queue = run.catch(() => undefined)
    return run
  }

  private assertFree(name: string, slug: string | undefined, id: number | undefined): void {
    for (const v of this.items) {
      if (v.id === id) continue
      if (v.name === name) throw new GatewayError('conflict', `a virtual MCP named ${name} already exists`)
      if (slug !== undefined && v.endpoint_slug === slug)
        throw new GatewayError('conflict', `a virtual MCP with endpoint ${slug} already exists`, {
          param: 'endpoint_slug',
        })
    }
  }

  private assertClients(tools: readonly VirtualMcpToolSpec[]): void {
    const known = new Set(this.opts.clients().flatMap((c) => [c.client_id, c.name]))
    const invalid = tools.map((t) => t.mcp_client_id).filter((id) => !known.has(id))
    if (invalid.length > 0)
      throw new GatewayError('invalid_request', `invalid MCP client IDs: ${invalid.join(', ')}`, {
        param: 'tools',
      })
  }

  private assertKeys(ids: readonly string[]): void {
    const exists = this.opts.virtualKeyExists
    const unknown = exists ? ids.filter((id) => !exists(id)) : []
    if (unknown.length > 0)
      throw new GatewayError('not_found', `virtual key not found: ${unknown.join(', ')}`, {
        param: 'virtual_key_ids',
      })
  }
}

/** Whether a Virtual MCP's specs include a tool; a spec names its client by id or by name. */
function bundles(vmcp: VirtualMcp, tool: McpTool, clientId: (name: string) => string | undefined): boolean {
  return vmcp.tools.some(
    (spec) =>
      (spec.mcp_client_id === tool.client || spec.mcp_client_id === clientId(tool.client)) &&
      spec.tool_names.some((n) => n === '*' || n === tool.toolName || n === tool.name),
  )
}

/**
 * What a caller of `/mcp/<slug>` may use: the Virtual MCP's tools (narrowed by the include headers),
 * and the prompts and resources of the clients it bundles whole (`["*"]`) or, for prompts, by name.
 */
export function virtualScope(
  vmcp: VirtualMcp,
  source: McpToolSource,
  headers: GatewayContext['headers'],
  clientId: (name: string) => string | undefined,
): McpScope {
  const tools = () =>
    source.listTools().filter((t) => bundles(vmcp, t, clientId) && headersAdmitTool(headers, t))
  return {
    tools,
    tool: (name) => {
      const tool = tools().find((t) => t.name === name)
      if (!tool)
        throw new GatewayError(
          'mcp_tool_blocked',
          `MCP tool ${name} is not part of virtual MCP ${vmcp.name}`,
          {
            isBifrostError: false,
            retryable: false,
          },
        )
      return tool
    },
    clientItem: (client, name) =>
      vmcp.tools.some(
        (spec) =>
          (spec.mcp_client_id === client || spec.mcp_client_id === clientId(client)) &&
          (spec.tool_names.includes('*') || (name !== undefined && spec.tool_names.includes(name))),
      ),
  }
}
