import type { FastifyInstance } from 'fastify'
import type { ChangeBus } from '../../cluster/index.js'
import { GatewayError } from '../../core/errors.js'
import type { PluginPlacement } from '../../core/plugins.js'
import {
  isBuiltinPlugin,
  isEsModulePath,
  PluginConfigError,
  type PluginEntry,
  type PluginHost,
} from '../../plugins/index.js'

export const PLUGINS_TOPIC = 'plugins'

function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', message, param === undefined ? {} : { param })
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw invalid('the body must be a JSON object')
  return body as Record<string, unknown>
}

/** The fields of a create or update body, checked; absent ones stay undefined. */
function readFields(b: Record<string, unknown>): Partial<PluginEntry> & { sent: Set<string> } {
  const sent = new Set(Object.keys(b))
  const out: Partial<PluginEntry> & { sent: Set<string> } = { sent }
  if (b.enabled !== undefined && typeof b.enabled !== 'boolean')
    throw invalid('enabled must be a boolean', 'enabled')
  out.enabled = b.enabled === true
  if (b.config !== undefined && b.config !== null) {
    if (typeof b.config !== 'object' || Array.isArray(b.config))
      throw invalid('config must be an object', 'config')
    out.config = b.config as Record<string, unknown>
  }
  if (b.path !== undefined && b.path !== null && typeof b.path !== 'string')
    throw invalid('path must be a string', 'path')
  out.path = typeof b.path === 'string' && b.path !== '' ? b.path : undefined
  if (out.path !== undefined && !isEsModulePath(out.path))
    throw invalid(
      `path ${out.path} is not an ES module (.js, .mjs): Go and WASM plugins are not loaded`,
      'path',
    )
  if (b.placement !== undefined && b.placement !== null && b.placement !== '') {
    if (b.placement !== 'pre_builtin' && b.placement !== 'post_builtin')
      throw invalid("Invalid placement value. Must be 'pre_builtin' or 'post_builtin'", 'placement')
    out.placement = b.placement as PluginPlacement
  }
  if (b.order !== undefined && b.order !== null) {
    if (!Number.isInteger(b.order)) throw invalid('order must be an integer', 'order')
    out.order = b.order as number
  }
  return out
}

/** A plugin that cannot be built: 400 naming the entry, the file and the field. */
function refused(err: unknown): never {
  if (err instanceof PluginConfigError) throw invalid(err.message, err.field)
  throw err
}

/**
 * Bifrost's plugin API: list, read, create, update (enable, disable, reconfigure: no restart) and
 * delete. Changes are saved in the config store and reach the other nodes.
 */
export function registerPluginRoutes(app: FastifyInstance, deps: { host: PluginHost; bus: ChangeBus }): void {
  const { host, bus } = deps
  const changed = () => bus.publish(PLUGINS_TOPIC, {}).catch(() => undefined)

  app.get('/api/plugins', async () => {
    const plugins = host.list()
    return { plugins, count: plugins.length }
  })

  app.get<{ Params: { name: string } }>('/api/plugins/:name', async (request) => {
    const plugin = host.get(request.params.name)
    if (!plugin) throw new GatewayError('not_found', 'Plugin not found')
    return plugin
  })

  app.post('/api/plugins', async (request, reply) => {
    const b = bodyObject(request.body)
    if (typeof b.name !== 'string' || b.name.trim() === '') throw invalid('Plugin name is required', 'name')
    const fields = readFields(b)
    if (host.get(b.name)) throw new GatewayError('conflict', 'Plugin already exists')
    const entry: PluginEntry = {
      name: b.name,
      enabled: fields.enabled ?? false,
      ...(!isBuiltinPlugin(b.name) && fields.path ? { path: fields.path } : {}),
      config: fields.config ?? {},
      ...(fields.placement && { placement: fields.placement }),
      ...(fields.order !== undefined && { order: fields.order }),
    }
    if (!entry.path && !isBuiltinPlugin(entry.name))
      throw invalid(`plugin ${entry.name} is not built in: give the path of its module`, 'path')
    const plugin = await host.put(entry).catch(refused)
    await changed()
    return reply.code(201).send({ message: 'Plugin created successfully', plugin })
  })

  app.put<{ Params: { name: string } }>('/api/plugins/:name', async (request) => {
    const name = request.params.name
    const fields = readFields(bodyObject(request.body))
    const existing = host.get(name)
    // What the body leaves out stays as it was; its config is merged over the old one (Bifrost's rule).
    const entry: PluginEntry = {
      name,
      enabled: fields.enabled ?? false,
      config: { ...existing?.config, ...fields.config },
    }
    const path = fields.sent.has('path') ? fields.path : (existing?.path ?? undefined)
    if (path && !isBuiltinPlugin(name)) entry.path = path
    const placement = fields.sent.has('placement') ? fields.placement : existing?.placement
    if (placement) entry.placement = placement
    const order = fields.sent.has('order') ? fields.order : existing?.order
    if (order !== undefined) entry.order = order
    if (!entry.path && !isBuiltinPlugin(name))
      throw invalid(`plugin ${name} is not built in: give the path of its module`, 'path')
    const plugin = await host.put(entry).catch(refused)
    await changed()
    return { message: 'Plugin updated successfully', plugin }
  })

  app.delete<{ Params: { name: string } }>('/api/plugins/:name', async (request) => {
    const name = request.params.name
    if (!host.has(name)) {
      if (host.get(name)) throw invalid(`plugin ${name} is built in and cannot be deleted`, 'name')
      throw new GatewayError('not_found', 'Plugin not found')
    }
    await host.remove(name)
    await changed()
    return { message: 'Plugin deleted successfully' }
  })
}
