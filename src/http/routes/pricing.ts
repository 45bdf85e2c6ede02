import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import type { PricingOverride, PricingOverrides } from '../../governance/index.js'
import type { ConfigStore } from '../../store/index.js'

export const PRICING_TOPIC = 'pricing'
const STORE_KEY = 'pricing_overrides'

export interface PricingRouteDeps {
  store: ConfigStore
  overrides: PricingOverrides
  /** Tells the other nodes to reload the overrides. */
  onChange?: () => Promise<void>
}

/** Loads the stored overrides into memory (at start, and when another node changed them). */
export async function loadPricingOverrides(store: ConfigStore, overrides: PricingOverrides): Promise<void> {
  overrides.replaceAll((await store.getValue<PricingOverride[]>(STORE_KEY)) ?? [])
}

type Body = Partial<PricingOverride> & { pricing_patch?: unknown }

function asBody(value: unknown): Body {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('invalid_request', 'the body must be a JSON object')
  }
  return value as Body
}

/**
 * Bifrost's pricing overrides (`/api/governance/pricing-overrides`): custom rates for matching
 * requests, most specific scope first. Kept in the config store, applied to every cost computed
 * from then on, on every node.
 */
export function registerPricingRoutes(
  app: FastifyInstance,
  { store, overrides, onChange }: PricingRouteDeps,
): void {
  async function persist(next: PricingOverride[]): Promise<void> {
    // Validate the whole set before storing anything.
    overrides.replaceAll(next)
    await store.setValue(STORE_KEY, overrides.list())
    await onChange?.().catch(() => undefined)
  }

  function shape(o: PricingOverride): PricingOverride {
    const { patch, ...rest } = o as PricingOverride & { patch?: unknown }
    return {
      ...rest,
      pricing_patch: (patch ?? rest.pricing_patch ?? null) as PricingOverride['pricing_patch'],
    }
  }

  app.get<{ Querystring: Record<string, string | undefined> }>(
    '/api/governance/pricing-overrides',
    async (request) => {
      const q = request.query
      const list = overrides
        .list()
        .filter(
          (o) =>
            (!q.scope_kind || o.scope_kind === q.scope_kind) &&
            (!q.virtual_key_id || o.virtual_key_id === q.virtual_key_id) &&
            (!q.provider_id || o.provider_id === q.provider_id) &&
            (!q.provider_key_id || o.provider_key_id === q.provider_key_id),
        )
        .map(shape)
      return { pricing_overrides: list, count: list.length }
    },
  )

  app.post('/api/governance/pricing-overrides', async (request, reply) => {
    const body = asBody(request.body)
    if (typeof body.name !== 'string' || !body.name.trim()) {
      throw new GatewayError('invalid_request', 'name is required', { param: 'name' })
    }
    const now = new Date().toISOString()
    const created = { ...body, id: randomUUID(), created_at: now, updated_at: now } as PricingOverride
    await persist([...overrides.list(), created])
    return reply.code(201).send({
      message: 'Pricing override created successfully',
      pricing_override: shape(overrides.get(created.id)!),
    })
  })

  app.put<{ Params: { id: string } }>('/api/governance/pricing-overrides/:id', async (request) => {
    const existing = overrides.get(request.params.id)
    if (!existing) throw new GatewayError('not_found', `pricing override ${request.params.id} not found`)
    const body = asBody(request.body)
    const updated = {
      ...existing,
      ...body,
      ...(body.pricing_patch !== undefined && { patch: undefined }),
      id: existing.id,
      created_at: existing.created_at,
      updated_at: new Date().toISOString(),
    } as PricingOverride
    await persist(overrides.list().map((o) => (o.id === existing.id ? updated : o)))
    return {
      message: 'Pricing override updated successfully',
      pricing_override: shape(overrides.get(existing.id)!),
    }
  })

  app.delete<{ Params: { id: string } }>('/api/governance/pricing-overrides/:id', async (request) => {
    if (!overrides.get(request.params.id))
      throw new GatewayError('not_found', `pricing override ${request.params.id} not found`)
    await persist(overrides.list().filter((o) => o.id !== request.params.id))
    return { message: 'Pricing override deleted successfully' }
  })

  // Bifrost downloads its price sheet again; Heimdall's list is bundled, so what a sync can bring
  // is the overrides as stored (written by a node that could not tell this one), on every node.
  app.post('/api/pricing/force-sync', async () => {
    await loadPricingOverrides(store, overrides)
    await onChange?.().catch(() => undefined)
    return { status: 'success', message: 'pricing synced successfully' }
  })
}
