import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import { keyAllowsModel } from '../../core/router/keys.js'
import type { ProviderRegistry } from '../../core/router/registry.js'
import type { ProviderConfig } from '../../core/schemas/index.js'
import { PRICES } from '../../governance/index.js'

type Query = Record<string, string | undefined>

interface ListedModel {
  name: string
  provider: string
  accessible_by_keys?: string[]
}

/** Case-insensitive, and with `-` and `_` ignored: `gpt4o` finds `gpt-4o`. */
function matchesQuery(model: string, query: string): boolean {
  const lower = model.toLowerCase()
  const q = query.toLowerCase()
  const bare = (s: string) => s.replace(/[-_]/g, '')
  return lower.includes(q) || bare(lower).includes(bare(q))
}

function limitOf(q: Query, fallback: number): number {
  if (q.limit === undefined || q.limit === '') return fallback
  const n = Number(q.limit)
  if (!Number.isInteger(n) || n < 0)
    throw new GatewayError('invalid_request', 'limit must be a non-negative integer', { param: 'limit' })
  return n
}

/**
 * A provider's model names: those its keys name (and their aliases), and those the bundled price
 * list knows for its type (Heimdall's model catalog, as Bifrost's is its datasheet).
 */
function catalogOf(config: ProviderConfig): string[] {
  const type = config.custom_provider_config?.base_provider_type ?? config.name
  const names = new Set(Object.keys(PRICES[type] ?? {}))
  for (const key of config.keys) {
    for (const m of key.models) if (m !== '*') names.add(m)
    for (const alias of Object.keys(key.aliases ?? {})) names.add(alias)
  }
  return [...names].sort()
}

/** The models of one provider; filtered to those some enabled key (or one of `keyIds`) serves, unless `unfiltered`. */
function modelsOf(config: ProviderConfig, keyIds: string[] | undefined, unfiltered: boolean): ListedModel[] {
  const all = catalogOf(config)
  if (unfiltered) return all.map((name) => ({ name, provider: config.name }))
  const keys = keyIds ? config.keys.filter((k) => keyIds.includes(k.id)) : config.keys
  const out: ListedModel[] = []
  for (const name of all) {
    const granting = keys.filter((k) => keyAllowsModel(k, name)).map((k) => k.id)
    if (granting.length === 0) continue
    out.push({ name, provider: config.name, ...(keyIds && { accessible_by_keys: granting }) })
  }
  return out
}

/**
 * Bifrost's model pickers for the UI: `GET /api/models` (the configured providers' models,
 * `query`, `provider`, `keys`, `limit` (5), `unfiltered`) and `GET /api/models/base` (base model
 * names of the catalog, `query`, `limit` (20)).
 */
export function registerModelRoutes(
  app: FastifyInstance,
  deps: { registry: ProviderRegistry<unknown> },
): void {
  app.get('/api/models', async (request) => {
    const q = request.query as Query
    const limit = limitOf(q, 5)
    const keyIds = q.keys
      ?.split(',')
      .map((k) => k.trim())
      .filter((k) => k !== '')
    const unfiltered = q.unfiltered === 'true'
    const providers = deps.registry
      .list()
      .map((p) => p.config)
      .filter((c) => !q.provider || c.name === q.provider)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    let models = providers.flatMap((c) => modelsOf(c, keyIds?.length ? keyIds : undefined, unfiltered))
    if (q.query) models = models.filter((m) => matchesQuery(m.name, q.query!))
    const total = models.length
    return { models: limit > 0 ? models.slice(0, limit) : models, total }
  })

  app.get('/api/models/base', async (request) => {
    const q = request.query as Query
    const limit = limitOf(q, 20)
    const names = new Set<string>()
    for (const [type, models] of Object.entries(PRICES))
      if (!q.provider || type === q.provider) for (const m of Object.keys(models)) names.add(m)
    let models = [...names].sort()
    if (q.query) models = models.filter((m) => matchesQuery(m, q.query!))
    const total = models.length
    return { models: limit > 0 ? models.slice(0, limit) : models, total }
  })
}
