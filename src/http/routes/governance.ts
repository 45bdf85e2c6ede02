import type { Static, TSchema } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import {
  type Budget,
  CreateCustomerSchema,
  CreateTeamSchema,
  CreateVirtualKeySchema,
  type Customer,
  type GovernanceService,
  type OwnerCrud,
  type OwnerKind,
  type OwnerTypes,
  type RateLimit,
  type Team,
  UpdateCustomerSchema,
  UpdateTeamSchema,
  UpdateVirtualKeySchema,
  type VirtualKey,
  withoutNullLists,
} from '../../governance/index.js'
import { compileValidator } from '../validate.js'

/** Puts live counter figures (current usage, last reset) into an entity's budgets and rate limits, nested ones included, in place. */
export interface UsageOverlay {
  overlay(entity: VirtualKey | Team | Customer | Budget | RateLimit): Promise<void>
}

export interface GovernanceRouteDeps {
  service: GovernanceService
  usage?: UsageOverlay
}

/** Validates a body, reading lists sent as null as absent (see withoutNullLists). */
function bodyValidator<T extends TSchema>(schema: T): (body: unknown) => Static<T> {
  const validate = compileValidator(schema)
  return (body) => validate(withoutNullLists(body))
}

const validateCreateVirtualKey = bodyValidator(CreateVirtualKeySchema)
const validateUpdateVirtualKey = bodyValidator(UpdateVirtualKeySchema)

/** Reads one query parameter: absent or empty is undefined; a repeated one is refused. */
export function queryText(query: unknown, name: string): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.[name]
  if (value === undefined || value === '') return undefined
  if (typeof value !== 'string') {
    throw new GatewayError('invalid_request', `Invalid ${name} parameter: give it once`, { param: name })
  }
  return value
}

export function queryCount(query: unknown, name: string): number | undefined {
  const text = queryText(query, name)
  if (text === undefined) return undefined
  if (!/^[0-9]{1,9}$/.test(text)) {
    throw new GatewayError('invalid_request', `Invalid ${name} parameter: must be a non-negative number`, {
      param: name,
    })
  }
  return Number(text)
}

/** Bifrost's list query: `from_memory` accepted as a flag, then `limit`, `offset` and `search`. */
export function listQuery(query: unknown): { limit?: number; offset?: number; search?: string } {
  queryFlag(query, 'from_memory')
  return {
    limit: queryCount(query, 'limit'),
    offset: queryCount(query, 'offset'),
    search: queryText(query, 'search'),
  }
}

export function queryFlag(query: unknown, name: string): boolean | undefined {
  const text = queryText(query, name)
  if (text === undefined) return undefined
  if (text !== 'true' && text !== 'false') {
    throw new GatewayError('invalid_request', `Invalid ${name} parameter: must be true or false`, {
      param: name,
    })
  }
  return text === 'true'
}

/**
 * Bifrost's governance management API: virtual keys, teams, customers, and the budgets and rate
 * limits they own. A virtual key's full value appears only in the answers to create and rotate;
 * everywhere else `value` is a masked hint. `from_memory` is accepted and answers the same shape:
 * the store is the source of both.
 */
export function registerGovernanceRoutes(
  app: FastifyInstance,
  { service, usage }: GovernanceRouteDeps,
): void {
  async function overlay<T extends VirtualKey | Team | Customer | Budget | RateLimit>(
    entities: T[],
  ): Promise<T[]> {
    if (usage) await Promise.all(entities.map((e) => usage.overlay(e)))
    return entities
  }
  async function overlayOne<T extends VirtualKey | Team | Customer>(entity: T): Promise<T> {
    await overlay([entity])
    return entity
  }

  // ---- virtual keys ----

  app.get('/api/governance/virtual-keys', async (request) => {
    const q = request.query
    const page = listQuery(q)
    const access = queryCount(q, 'access_profile_id')
    const list = await service.listVirtualKeys({
      ...page,
      team_id: queryText(q, 'team_id'),
      customer_id: queryText(q, 'customer_id'),
      user_id: queryText(q, 'user_id'),
      ...(access !== undefined && { access_profile_id: access }),
      is_active: queryFlag(q, 'is_active'),
    })
    await overlay(list.virtual_keys)
    return list
  })

  app.post('/api/governance/virtual-keys', async (request) => {
    const { virtualKey } = await service.createVirtualKey(validateCreateVirtualKey(request.body))
    return { message: 'Virtual key created successfully', virtual_key: await overlayOne(virtualKey) }
  })

  app.get<{ Params: { vk_id: string } }>('/api/governance/virtual-keys/:vk_id', async (request) => {
    queryFlag(request.query, 'from_memory')
    return { virtual_key: await overlayOne(await service.getVirtualKey(request.params.vk_id)) }
  })

  app.put<{ Params: { vk_id: string } }>('/api/governance/virtual-keys/:vk_id', async (request) => {
    const input = validateUpdateVirtualKey(request.body)
    const virtualKey = await service.updateVirtualKey(request.params.vk_id, input)
    return { message: 'Virtual key updated successfully', virtual_key: await overlayOne(virtualKey) }
  })

  app.delete<{ Params: { vk_id: string } }>('/api/governance/virtual-keys/:vk_id', async (request) => {
    const virtualKey = await service.deleteVirtualKey(request.params.vk_id)
    return { message: 'Virtual key deleted successfully', virtual_key: virtualKey }
  })

  app.post<{ Params: { vk_id: string } }>('/api/governance/virtual-keys/:vk_id/rotate', async (request) => {
    const { virtualKey } = await service.rotateVirtualKey(request.params.vk_id)
    return { message: 'Virtual key rotated successfully', virtual_key: await overlayOne(virtualKey) }
  })

  // ---- teams and customers ----

  registerOwnerRoutes(app, service.teams, overlay, {
    path: 'teams',
    param: 'team_id',
    title: 'Team',
    validateCreate: bodyValidator(CreateTeamSchema),
    validateUpdate: bodyValidator(UpdateTeamSchema),
    filters: (q) => ({ customer_id: queryText(q, 'customer_id') }),
    records: (list) => list.teams,
  })
  registerOwnerRoutes(app, service.customers, overlay, {
    path: 'customers',
    param: 'customer_id',
    title: 'Customer',
    validateCreate: bodyValidator(CreateCustomerSchema),
    validateUpdate: bodyValidator(UpdateCustomerSchema),
    filters: () => ({}),
    records: (list) => list.customers,
  })

  // ---- budgets and rate limits ----

  app.get('/api/governance/budgets', async (request) => {
    queryFlag(request.query, 'from_memory')
    const budgets = await overlay(await service.listBudgets())
    return { budgets, count: budgets.length }
  })

  app.get('/api/governance/rate-limits', async (request) => {
    queryFlag(request.query, 'from_memory')
    const rateLimits = await overlay(await service.listRateLimits())
    return { rate_limits: rateLimits, count: rateLimits.length }
  })
}

/** What differs between the team and the customer routes. */
interface OwnerRoutes<K extends OwnerKind> {
  path: 'teams' | 'customers'
  param: 'team_id' | 'customer_id'
  title: string
  validateCreate: (body: unknown) => OwnerTypes[K]['create']
  validateUpdate: (body: unknown) => OwnerTypes[K]['update']
  /** The list's own filters, besides limit, offset and search. */
  filters: (query: unknown) => Omit<OwnerTypes[K]['query'], 'limit' | 'offset' | 'search'>
  records: (list: OwnerTypes[K]['list']) => OwnerTypes[K]['record'][]
}

/** Bifrost's routes of one kind of owner: list, create, get, update and delete, answered in its words. */
function registerOwnerRoutes<K extends OwnerKind>(
  app: FastifyInstance,
  crud: OwnerCrud<K>,
  overlay: <T extends Team | Customer>(entities: T[]) => Promise<T[]>,
  spec: OwnerRoutes<K>,
): void {
  const { path, param, title } = spec
  const key = param.slice(0, -'_id'.length)
  const one = async (record: OwnerTypes[K]['record']) => (await overlay([record]))[0]
  type Params = { Params: Record<string, string> }
  app.get(`/api/governance/${path}`, async (request) => {
    const q = request.query
    const list = await crud.list({ ...listQuery(q), ...spec.filters(q) })
    await overlay(spec.records(list))
    return list
  })
  app.post(`/api/governance/${path}`, async (request) => {
    const record = await crud.create(spec.validateCreate(request.body))
    return { message: `${title} created successfully`, [key]: await one(record) }
  })
  app.get<Params>(`/api/governance/${path}/:${param}`, async (request) => {
    queryFlag(request.query, 'from_memory')
    return { [key]: await one(await crud.get(request.params[param])) }
  })
  app.put<Params>(`/api/governance/${path}/:${param}`, async (request) => {
    const record = await crud.update(request.params[param], spec.validateUpdate(request.body))
    return { message: `${title} updated successfully`, [key]: await one(record) }
  })
  app.delete<Params>(`/api/governance/${path}/:${param}`, async (request) => {
    await crud.delete(request.params[param])
    return { message: `${title} deleted successfully` }
  })
}
