import { invalid } from './checks.js'

/**
 * config.json's way of naming budgets and rate limits: an entry (a model config, a provider) may
 * name them by id (`budget_id`, `budget_ids`, `rate_limit_id`) in the `governance` section's
 * `budgets` and `rate_limits` arrays, instead of writing them inline.
 */

type Entry = Record<string, unknown>

export interface FileLimitIndex {
  budgets: Map<string, Entry>
  rateLimits: Map<string, Entry>
}

function byId(list: unknown): Map<string, Entry> {
  return new Map(
    (Array.isArray(list) ? list : []).flatMap((e: unknown) =>
      e && typeof e === 'object' && typeof (e as { id?: unknown }).id === 'string'
        ? [[(e as { id: string }).id, e as Entry]]
        : [],
    ),
  )
}

export function fileLimitIndex(section: { budgets?: unknown; rate_limits?: unknown }): FileLimitIndex {
  return { budgets: byId(section.budgets), rateLimits: byId(section.rate_limits) }
}

/**
 * The entry without its id references, with the budgets and rate limit they name written inline
 * (`budgets`, `rate_limit`); a reference to nothing is a 400 naming it.
 */
export function inlineNamedLimits(entry: Entry, index: FileLimitIndex): Entry {
  const { budget_id, budget_ids, rate_limit_id, ...rest } = entry
  const named = [budget_id, ...(Array.isArray(budget_ids) ? budget_ids : [])].filter(
    (b): b is string => typeof b === 'string',
  )
  const out: Entry = { ...rest }
  if (named.length > 0) {
    out.budgets = named.map((b) => {
      const found = index.budgets.get(b)
      if (!found)
        invalid(`budget ${b} is not in governance.budgets`, budget_id === b ? 'budget_id' : 'budget_ids')
      const { id: _id, ...budget } = found
      return budget
    })
  }
  if (typeof rate_limit_id === 'string') {
    const found = index.rateLimits.get(rate_limit_id)
    if (!found) invalid(`rate limit ${rate_limit_id} is not in governance.rate_limits`, 'rate_limit_id')
    const { id: _id, ...limit } = found
    out.rate_limit = limit
  }
  return out
}

/** Runs `load` for an entry, turning its failure into one that names the entry (`at`) and the field. */
export async function namingEntry<T>(at: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (err) {
    const param = (err as { param?: string }).param
    throw new Error(`${at}${param ? `.${param}` : ''}: ${(err as Error).message}`, { cause: err })
  }
}
