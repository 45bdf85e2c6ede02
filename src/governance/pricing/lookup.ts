import { PRICES, type ModelPrice } from './prices.js'

/** The table entry a (provider, model) was priced as. */
export interface PriceMatch {
  provider: string
  model: string
  price: ModelPrice
}

/**
 * Suffixes that name a snapshot or an alias of the same model, removed one after the other (each
 * at most once) until a name is in the table: `-latest`, a date (`-2024-08-06`, `-20250929`,
 * Vertex's `@20250929`), `-preview` with its date, Gemini's `-001`, and a 4-digit snapshot (`-0613`,
 * Mistral's `-2411`).
 */
const SNAPSHOT_SUFFIXES: readonly RegExp[] = [
  /-latest$/,
  /(?:-\d{4}-\d{2}-\d{2}|[-@]\d{8})$/,
  /-preview(?:-\d{2}-\d{2}|-\d{2}-\d{4})?$/,
  /-\d{3}$/,
  /-\d{4}$/,
]

/** Bedrock's model ids: `us.anthropic.claude-sonnet-4-20250514-v1:0`. */
const BEDROCK_PREFIX = /^(?:[a-z]{2,6}\.)?anthropic\./
const BEDROCK_VERSION = /-v\d+(?::\d+)?$/

/**
 * First-party model families. A provider with no table of its own (Azure, Vertex, Bedrock, a
 * custom provider's name) serves these at (about) the vendor's list price, so it borrows that price.
 * A provider that has a table (Groq, self-hosted engines...) never borrows.
 */
const FAMILIES: readonly (readonly [RegExp, string])[] = [
  [/^(?:gpt-|chatgpt-|o[1-9](?:-|$)|text-embedding-)/, 'openai'],
  [/^claude-/, 'anthropic'],
  [/^gemini-/, 'gemini'],
]

/** OpenRouter vendor prefixes whose models it bills at the vendor's own list price. */
const OPENROUTER_VENDORS: Readonly<Record<string, string>> = {
  openai: 'openai',
  anthropic: 'anthropic',
  google: 'gemini',
  'x-ai': 'xai',
  mistralai: 'mistral',
  perplexity: 'perplexity',
}

const FREE: ModelPrice = { input_cost_per_token: 0, output_cost_per_token: 0 }

export function lookupPrice(provider: string, model: string): ModelPrice | undefined {
  return findPrice(provider, model)?.price
}

/**
 * Finds the price of a model: the exact name, then the name without `models/`, snapshot and alias
 * suffixes, then with dots between digits as dashes (`claude-sonnet-4.5` → `claude-sonnet-4-5`).
 * Matching ignores case. A `provider/` prefix equal to the provider is dropped.
 */
export function findPrice(provider: string, model: string): PriceMatch | undefined {
  // The table is fixed at build time, so a (provider, model) always finds the same entry: looked up
  // once, then remembered (a gateway sees few distinct models; the memo is bounded all the same).
  // By provider, then model: no key string is built (and hashed) per call.
  let byModel = found.get(provider)
  const known = byModel?.get(model)
  if (known !== undefined || byModel?.has(model)) return known
  const match = searchPrice(provider, model)
  if (remembered >= MAX_REMEMBERED) {
    found.clear()
    remembered = 0
    byModel = undefined
  }
  if (!byModel) found.set(provider, (byModel = new Map()))
  byModel.set(model, match)
  remembered++
  return match
}

const MAX_REMEMBERED = 4096
const found = new Map<string, Map<string, PriceMatch | undefined>>()
let remembered = 0

function searchPrice(provider: string, model: string): PriceMatch | undefined {
  const p = provider.trim().toLowerCase()
  let m = model.trim().toLowerCase()
  if (m.startsWith(`${p}/`)) m = m.slice(p.length + 1)
  if (p === 'openrouter') return findOpenRouterPrice(m)
  const table = tableOf(p)
  if (table) return findIn(p, table, m)
  const base = baseName(m)
  const family = FAMILIES.find(([re]) => re.test(base))?.[1]
  const vendor = family ? tableOf(family) : undefined
  return family && vendor ? findIn(family, vendor, m) : undefined
}

/**
 * OpenRouter ids are `vendor/model[:variant]`. `:free` variants cost nothing; other variants
 * (`:nitro`, `:online`...) cost the model's token price. First-party vendors resolve to their own table.
 */
function findOpenRouterPrice(model: string): PriceMatch | undefined {
  if (model.endsWith(':free')) return { provider: 'openrouter', model, price: FREE }
  const m = model.replace(/:[a-z0-9-]+$/, '')
  const own = findIn('openrouter', tableOf('openrouter') ?? {}, m)
  if (own) return own
  const slash = m.indexOf('/')
  const vendor = slash > 0 ? OPENROUTER_VENDORS[m.slice(0, slash)] : undefined
  const table = vendor ? tableOf(vendor) : undefined
  return vendor && table ? findIn(vendor, table, m.slice(slash + 1)) : undefined
}

function tableOf(provider: string): Readonly<Record<string, ModelPrice>> | undefined {
  return Object.hasOwn(PRICES, provider) ? PRICES[provider] : undefined
}

function findIn(
  provider: string,
  table: Readonly<Record<string, ModelPrice>>,
  model: string,
): PriceMatch | undefined {
  for (const name of candidates(model)) {
    if (Object.hasOwn(table, name)) return { provider, model: name, price: table[name] }
  }
  return undefined
}

function baseName(model: string): string {
  let m = model.replace(/^models\//, '')
  if (BEDROCK_PREFIX.test(m)) m = m.replace(BEDROCK_PREFIX, '').replace(BEDROCK_VERSION, '')
  return m
}

function candidates(model: string): string[] {
  const names = [model]
  let m = baseName(model)
  if (m !== model) names.push(m)
  for (const suffix of SNAPSHOT_SUFFIXES) {
    const next = m.replace(suffix, '')
    if (next !== m && next !== '') {
      m = next
      names.push(m)
    }
  }
  for (const name of [...names]) {
    const dashed = name.replace(/(\d)\.(?=\d)/g, '$1-')
    if (dashed !== name) names.push(dashed)
  }
  return names
}
