import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js'

/** What one server offers: its tools, prompts, resources and resource templates. */
export interface ServerCatalog {
  tools: Tool[]
  prompts: Prompt[]
  resources: Resource[]
  resourceTemplates: ResourceTemplate[]
}

export const EMPTY_CATALOG: ServerCatalog = { tools: [], prompts: [], resources: [], resourceTemplates: [] }

export type CatalogPart = keyof ServerCatalog

interface RequestOptions {
  signal?: AbortSignal
  timeout?: number
}

/** Follows `nextCursor` until the list ends. */
async function allPages<T>(
  page: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string }>,
): Promise<T[]> {
  const out: T[] = []
  let cursor: string | undefined
  do {
    const next = await page(cursor)
    out.push(...next.items)
    cursor = next.nextCursor
  } while (cursor !== undefined)
  return out
}

const params = (cursor: string | undefined) => (cursor === undefined ? {} : { cursor })

/** One part of a server's catalog; empty when the server declares no such capability. */
export async function fetchCatalogPart<P extends CatalogPart>(
  client: Client,
  part: P,
  options: RequestOptions,
): Promise<ServerCatalog[P]> {
  const caps = client.getServerCapabilities()
  switch (part) {
    case 'tools':
      if (!caps?.tools) return [] as ServerCatalog[P]
      return (await allPages(async (c) => {
        const r = await client.listTools(params(c), options)
        return { items: r.tools, nextCursor: r.nextCursor }
      })) as ServerCatalog[P]
    case 'prompts':
      if (!caps?.prompts) return [] as ServerCatalog[P]
      return (await allPages(async (c) => {
        const r = await client.listPrompts(params(c), options)
        return { items: r.prompts, nextCursor: r.nextCursor }
      })) as ServerCatalog[P]
    case 'resources':
      if (!caps?.resources) return [] as ServerCatalog[P]
      return (await allPages(async (c) => {
        const r = await client.listResources(params(c), options)
        return { items: r.resources, nextCursor: r.nextCursor }
      })) as ServerCatalog[P]
    default:
      if (!caps?.resources) return [] as ServerCatalog[P]
      return (await allPages(async (c) => {
        const r = await client.listResourceTemplates(params(c), options)
        return { items: r.resourceTemplates, nextCursor: r.nextCursor }
      })) as ServerCatalog[P]
  }
}

/**
 * The whole catalog. Tools must list; prompts and resources are extras that a server may
 * declare and still fail to serve, so such a failure leaves that part empty.
 */
export async function fetchCatalog(client: Client, options: RequestOptions): Promise<ServerCatalog> {
  const extra = <P extends CatalogPart>(part: P) =>
    fetchCatalogPart(client, part, options).catch(() => [] as ServerCatalog[P])
  const [tools, prompts, resources, resourceTemplates] = await Promise.all([
    fetchCatalogPart(client, 'tools', options),
    extra('prompts'),
    extra('resources'),
    extra('resourceTemplates'),
  ])
  return { tools, prompts, resources, resourceTemplates }
}
