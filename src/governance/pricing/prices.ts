/**
 * List prices by provider and model, in US dollars PER TOKEN, as the providers published them
 * (knowledge as of November 2025; some are approximations, e.g. OpenRouter's open models, whose
 * price depends on the host it routes to). Entries are written in dollars per million tokens, the
 * unit of the providers' pages, and divided once by `usd`.
 *
 * Field names are Bifrost's (and its `PricingPatch`'s), so an override patches a price field by field.
 * Not modelled: per-request fees (Perplexity searches), audio/image tokens, batch and priority
 * tiers.
 */
export interface ModelPrice {
  input_cost_per_token: number
  output_cost_per_token: number
  /** Prompt-cache reads; when absent they cost the input price. */
  cache_read_input_token_cost?: number
  /** Prompt-cache writes (Anthropic's 5-minute cache); when absent they cost the input price. */
  cache_creation_input_token_cost?: number
  /** One-hour prompt-cache writes (Anthropic's `ttl: "1h"`); when absent they cost the 5-minute write price. */
  cache_creation_input_token_cost_above_1hr?: number
  /** Long-context tiers: when a prompt exceeds 128k / 200k tokens, every token of the request costs these. */
  input_cost_per_token_above_128k_tokens?: number
  output_cost_per_token_above_128k_tokens?: number
  input_cost_per_token_above_200k_tokens?: number
  output_cost_per_token_above_200k_tokens?: number
  cache_read_input_token_cost_above_200k_tokens?: number
  cache_creation_input_token_cost_above_200k_tokens?: number
  cache_creation_input_token_cost_above_1hr_above_200k_tokens?: number
}

/** Dollars per million tokens, as written below. */
interface PerMillion {
  read?: number
  write?: number
  write1h?: number
  in128k?: number
  out128k?: number
  in200k?: number
  out200k?: number
  read200k?: number
  write200k?: number
  write1h200k?: number
}

const MILLION = 1_000_000

function usd(input: number, output: number, extra: PerMillion = {}): ModelPrice {
  const price: ModelPrice = { input_cost_per_token: input / MILLION, output_cost_per_token: output / MILLION }
  const set = (field: keyof ModelPrice, value: number | undefined) => {
    if (value !== undefined) price[field] = value / MILLION
  }
  set('cache_read_input_token_cost', extra.read)
  set('cache_creation_input_token_cost', extra.write)
  set('cache_creation_input_token_cost_above_1hr', extra.write1h)
  set('input_cost_per_token_above_128k_tokens', extra.in128k)
  set('output_cost_per_token_above_128k_tokens', extra.out128k)
  set('input_cost_per_token_above_200k_tokens', extra.in200k)
  set('output_cost_per_token_above_200k_tokens', extra.out200k)
  set('cache_read_input_token_cost_above_200k_tokens', extra.read200k)
  set('cache_creation_input_token_cost_above_200k_tokens', extra.write200k)
  set('cache_creation_input_token_cost_above_1hr_above_200k_tokens', extra.write1h200k)
  return price
}

/** Anthropic: cache writes cost 1.25× input (5 minutes) or 2× input (1 hour), cache reads 0.1× input. */
function claude(input: number, output: number, extra: PerMillion = {}): ModelPrice {
  return usd(input, output, { read: input * 0.1, write: input * 1.25, write1h: input * 2, ...extra })
}

/** Sonnet 4 and 4.5 above 200k prompt tokens: input and cache prices double, output ×1.5. */
const SONNET_LONG_CONTEXT: PerMillion = {
  in200k: 6,
  out200k: 22.5,
  read200k: 0.6,
  write200k: 7.5,
  write1h200k: 12,
}

const OPENAI: Record<string, ModelPrice> = {
  'gpt-5': usd(1.25, 10, { read: 0.125 }),
  'gpt-5.1': usd(1.25, 10, { read: 0.125 }),
  'gpt-5-chat-latest': usd(1.25, 10, { read: 0.125 }),
  'gpt-5-codex': usd(1.25, 10, { read: 0.125 }),
  'gpt-5-mini': usd(0.25, 2, { read: 0.025 }),
  'gpt-5-nano': usd(0.05, 0.4, { read: 0.005 }),
  'gpt-5-pro': usd(15, 120),
  'gpt-4.1': usd(2, 8, { read: 0.5 }),
  'gpt-4.1-mini': usd(0.4, 1.6, { read: 0.1 }),
  'gpt-4.1-nano': usd(0.1, 0.4, { read: 0.025 }),
  'gpt-4o': usd(2.5, 10, { read: 1.25 }),
  'gpt-4o-2024-05-13': usd(5, 15),
  'chatgpt-4o-latest': usd(5, 15),
  'gpt-4o-mini': usd(0.15, 0.6, { read: 0.075 }),
  o1: usd(15, 60, { read: 7.5 }),
  'o1-mini': usd(1.1, 4.4, { read: 0.55 }),
  'o1-pro': usd(150, 600),
  o3: usd(2, 8, { read: 0.5 }),
  'o3-pro': usd(20, 80),
  'o3-mini': usd(1.1, 4.4, { read: 0.55 }),
  'o4-mini': usd(1.1, 4.4, { read: 0.275 }),
  'gpt-4-turbo': usd(10, 30),
  'gpt-4-1106-preview': usd(10, 30),
  'gpt-4-0125-preview': usd(10, 30),
  'gpt-4': usd(30, 60),
  'gpt-3.5-turbo': usd(0.5, 1.5),
  'gpt-3.5-turbo-instruct': usd(1.5, 2),
  'text-embedding-3-small': usd(0.02, 0),
  'text-embedding-3-large': usd(0.13, 0),
  'text-embedding-ada-002': usd(0.1, 0),
}

const ANTHROPIC: Record<string, ModelPrice> = {
  'claude-opus-4-5': claude(5, 25),
  'claude-opus-4-1': claude(15, 75),
  'claude-opus-4': claude(15, 75),
  'claude-opus-4-0': claude(15, 75),
  'claude-sonnet-4-5': claude(3, 15, SONNET_LONG_CONTEXT),
  'claude-sonnet-4': claude(3, 15, SONNET_LONG_CONTEXT),
  'claude-sonnet-4-0': claude(3, 15, SONNET_LONG_CONTEXT),
  'claude-haiku-4-5': claude(1, 5),
  'claude-3-7-sonnet': claude(3, 15),
  'claude-3-5-sonnet': claude(3, 15),
  'claude-3-5-haiku': claude(0.8, 4),
  'claude-3-opus': claude(15, 75),
  // Claude 3 Haiku's published cache prices are rounded: $0.30 write, $0.03 read.
  'claude-3-haiku': usd(0.25, 1.25, { read: 0.03, write: 0.3, write1h: 0.5 }),
}

// Gemini bills no cache write (explicit caches pay storage per hour instead), so writes cost the input price.
const GEMINI: Record<string, ModelPrice> = {
  'gemini-3-pro': usd(2, 12, { read: 0.2, in200k: 4, out200k: 18, read200k: 0.4 }),
  'gemini-2.5-pro': usd(1.25, 10, { read: 0.125, in200k: 2.5, out200k: 15, read200k: 0.25 }),
  'gemini-2.5-flash': usd(0.3, 2.5, { read: 0.03 }),
  'gemini-2.5-flash-lite': usd(0.1, 0.4, { read: 0.01 }),
  'gemini-2.0-flash': usd(0.1, 0.4, { read: 0.025 }),
  'gemini-2.0-flash-lite': usd(0.075, 0.3),
  'gemini-embedding-001': usd(0.15, 0),
}

const GROQ: Record<string, ModelPrice> = {
  'llama-3.3-70b-versatile': usd(0.59, 0.79),
  'llama-3.1-8b-instant': usd(0.05, 0.08),
  'meta-llama/llama-4-scout-17b-16e-instruct': usd(0.11, 0.34),
  'meta-llama/llama-4-maverick-17b-128e-instruct': usd(0.2, 0.6),
  'openai/gpt-oss-120b': usd(0.15, 0.75),
  'openai/gpt-oss-20b': usd(0.1, 0.5),
  'moonshotai/kimi-k2-instruct': usd(1, 3),
  'moonshotai/kimi-k2-instruct-0905': usd(1, 3, { read: 0.5 }),
  'qwen/qwen3-32b': usd(0.29, 0.59),
  'deepseek-r1-distill-llama-70b': usd(0.75, 0.99),
  'gemma2-9b-it': usd(0.2, 0.2),
}

const MISTRAL: Record<string, ModelPrice> = {
  'mistral-large': usd(2, 6),
  'mistral-medium': usd(0.4, 2),
  'mistral-small': usd(0.1, 0.3),
  'magistral-medium': usd(2, 5),
  'magistral-small': usd(0.5, 1.5),
  codestral: usd(0.3, 0.9),
  'devstral-medium': usd(0.4, 2),
  'devstral-small': usd(0.1, 0.3),
  'pixtral-large': usd(2, 6),
  'pixtral-12b': usd(0.15, 0.15),
  'ministral-8b': usd(0.1, 0.1),
  'ministral-3b': usd(0.04, 0.04),
  'open-mistral-nemo': usd(0.15, 0.15),
  'mistral-embed': usd(0.1, 0),
}

const XAI: Record<string, ModelPrice> = {
  'grok-4': usd(3, 15, { read: 0.75, in128k: 6, out128k: 30 }),
  'grok-4-fast-reasoning': usd(0.2, 0.5, { read: 0.05, in128k: 0.4, out128k: 1 }),
  'grok-4-fast-non-reasoning': usd(0.2, 0.5, { read: 0.05, in128k: 0.4, out128k: 1 }),
  'grok-code-fast-1': usd(0.2, 1.5, { read: 0.02 }),
  'grok-3': usd(3, 15, { read: 0.75 }),
  'grok-3-mini': usd(0.3, 0.5, { read: 0.075 }),
  'grok-2': usd(2, 10),
  'grok-2-vision': usd(2, 10),
}

const CEREBRAS: Record<string, ModelPrice> = {
  'llama3.1-8b': usd(0.1, 0.1),
  'llama-3.3-70b': usd(0.85, 1.2),
  'llama-4-scout-17b-16e-instruct': usd(0.65, 0.85),
  'llama-4-maverick-17b-128e-instruct': usd(0.2, 0.6),
  'qwen-3-32b': usd(0.4, 0.8),
  'qwen-3-235b-a22b-instruct-2507': usd(0.6, 1.2),
  'gpt-oss-120b': usd(0.25, 0.69),
}

// DeepSeek V3.2 (from 29 September 2025): one price for chat and reasoner; cache hits are the reads.
const DEEPSEEK: Record<string, ModelPrice> = {
  'deepseek-chat': usd(0.28, 0.42, { read: 0.028 }),
  'deepseek-reasoner': usd(0.28, 0.42, { read: 0.028 }),
}

// Token prices only; Perplexity's per-request search fees are not modelled.
const PERPLEXITY: Record<string, ModelPrice> = {
  sonar: usd(1, 1),
  'sonar-pro': usd(3, 15),
  'sonar-reasoning': usd(1, 5),
  'sonar-reasoning-pro': usd(2, 8),
  'sonar-deep-research': usd(2, 8),
}

// First-party models on OpenRouter resolve to their vendor's table (see lookup.ts); these are the
// open models, priced at a typical host's rate.
const OPENROUTER: Record<string, ModelPrice> = {
  'meta-llama/llama-3.3-70b-instruct': usd(0.13, 0.4),
  'meta-llama/llama-3.1-8b-instruct': usd(0.02, 0.03),
  'meta-llama/llama-4-maverick': usd(0.15, 0.6),
  'meta-llama/llama-4-scout': usd(0.08, 0.3),
  'deepseek/deepseek-chat-v3.1': usd(0.2, 0.8),
  'deepseek/deepseek-r1': usd(0.4, 1.75),
  'qwen/qwen3-235b-a22b': usd(0.18, 0.54),
  'qwen/qwen3-coder': usd(0.22, 0.95),
  'moonshotai/kimi-k2': usd(0.5, 2.4),
  'openai/gpt-oss-120b': usd(0.05, 0.25),
  'openai/gpt-oss-20b': usd(0.03, 0.15),
  'z-ai/glm-4.6': usd(0.5, 1.75),
}

/**
 * Provider → model → price. Model names are lower case. Self-hosted engines have an empty table:
 * their models are unpriced (cost 0, `priced: false`) unless an override prices them, and they never
 * borrow a first-party price for a look-alike model name.
 */
export const PRICES: Readonly<Record<string, Readonly<Record<string, ModelPrice>>>> = {
  openai: OPENAI,
  anthropic: ANTHROPIC,
  gemini: GEMINI,
  groq: GROQ,
  mistral: MISTRAL,
  xai: XAI,
  cerebras: CEREBRAS,
  deepseek: DEEPSEEK,
  perplexity: PERPLEXITY,
  openrouter: OPENROUTER,
  ollama: {},
  vllm: {},
  sgl: {},
}
