import { GatewayError } from '../../core/errors.js'
import type { ModelEntry } from '../../core/schemas/index.js'

/** One model as Anthropic's `GET /v1/models` lists it. */
export interface AnthropicModelOut {
  type: 'model'
  id: string
  display_name: string
  created_at: string
}

/** Anthropic's page of models. */
export interface AnthropicModelPage {
  data: AnthropicModelOut[]
  has_more: boolean
  first_id: string | null
  last_id: string | null
}

/** Anthropic's paging parameters: `limit` (1 to 1000, 20 by default), `after_id`, `before_id`. */
export interface ModelPaging {
  limit: number
  after_id?: string
  before_id?: string
}

export function readModelPaging(query: Record<string, unknown>): ModelPaging {
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined)
  const given = text(query.limit)
  const limit = given === undefined ? 20 : Number(given)
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new GatewayError('invalid_request', 'limit: must be an integer from 1 to 1000', { param: 'limit' })
  return { limit, after_id: text(query.after_id), before_id: text(query.before_id) }
}

/**
 * The gateway's models as Anthropic's list: Anthropic's own by their bare id (as the SDK names
 * them), any other provider's as `provider/model`, which `/anthropic/v1/messages` takes as it is.
 */
export function toAnthropicModelPage(models: ModelEntry[], paging: ModelPaging): AnthropicModelPage {
  const all = models.map((m): AnthropicModelOut => {
    const id = m.id.startsWith('anthropic/') ? m.id.slice('anthropic/'.length) : m.id
    const name = typeof m.name === 'string' && m.name ? m.name : id
    const created = Number.isFinite(m.created) && m.created > 0 ? m.created : 0
    return { type: 'model', id, display_name: name, created_at: new Date(created * 1000).toISOString() }
  })
  let from = 0
  let to = all.length
  if (paging.after_id !== undefined) from = all.findIndex((m) => m.id === paging.after_id) + 1
  if (paging.before_id !== undefined) {
    const at = all.findIndex((m) => m.id === paging.before_id)
    to = at === -1 ? all.length : at
  }
  // Before a cursor, the page is the one just before it; otherwise the one after.
  const window = all.slice(from, to)
  const data =
    paging.before_id !== undefined && paging.after_id === undefined
      ? window.slice(-paging.limit)
      : window.slice(0, paging.limit)
  return {
    data,
    has_more: window.length > data.length,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
  }
}
