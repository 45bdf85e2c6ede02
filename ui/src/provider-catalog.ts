/**
 * The providers the gateway serves (src/providers: its own adapters and the OpenAI-compatible
 * table), as "Add provider" offers them: how each is set up and where its default endpoint is.
 */

/** How a provider's key is written: an API key, or a cloud's own settings (Bifrost's key configs). */
export type Setup = 'api_key' | 'azure' | 'bedrock' | 'vertex' | 'self_hosted'

export interface CatalogEntry {
  name: string
  label: string
  setup: Setup
  /** Said under the select: where it runs, what it needs. */
  hint?: string
  /** Whether a base URL must be given (self-hosted engines have no default). */
  needsBaseUrl?: boolean
  /** Runs without a key. */
  keyless?: boolean
}

const apiKey = (name: string, label: string): CatalogEntry => ({ name, label, setup: 'api_key' })
/** Azure, Bedrock and Vertex: each cloud's key has its own settings (setup named after it). */
const cloud = (name: 'azure' | 'bedrock' | 'vertex', label: string, hint: string): CatalogEntry => ({
  name,
  label,
  setup: name,
  hint,
})
/** An engine on the user's own machines: no key, and no default endpoint unless said. */
const selfHosted = (
  name: string,
  label: string,
  { needsBaseUrl = true, hint = 'Runs without a key; needs the base URL of your server' } = {},
): CatalogEntry => ({
  name,
  label: `${label} (self-hosted)`,
  setup: 'self_hosted',
  keyless: true,
  needsBaseUrl,
  hint,
})

export const PROVIDERS: CatalogEntry[] = [
  apiKey('openai', 'OpenAI'),
  apiKey('anthropic', 'Anthropic'),
  apiKey('gemini', 'Google Gemini (AI Studio)'),
  cloud('azure', 'Azure OpenAI', 'Endpoint, API version and deployments; an API key or an Entra ID app'),
  cloud('bedrock', 'AWS Bedrock', 'AWS access keys and region, or a Bedrock API key'),
  cloud('vertex', 'Google Vertex AI', 'A service account, project and region'),
  apiKey('cohere', 'Cohere'),
  apiKey('mistral', 'Mistral'),
  apiKey('groq', 'Groq'),
  apiKey('xai', 'xAI (Grok)'),
  apiKey('cerebras', 'Cerebras'),
  apiKey('openrouter', 'OpenRouter'),
  apiKey('perplexity', 'Perplexity'),
  apiKey('deepseek', 'DeepSeek'),
  apiKey('fireworks', 'Fireworks AI'),
  apiKey('nebius', 'Nebius AI Studio'),
  apiKey('parasail', 'Parasail'),
  apiKey('huggingface', 'Hugging Face'),
  selfHosted('ollama', 'Ollama', {
    needsBaseUrl: false,
    hint: 'Runs without a key; point the base URL at your Ollama server',
  }),
  selfHosted('vllm', 'vLLM'),
  selfHosted('sgl', 'SGLang'),
]

/** The select's value for "a provider of my own" (an endpoint speaking a known provider's API). */
export const CUSTOM = '__custom__'

/** The wire formats a custom provider may speak (Bifrost's `base_provider_type`). */
export const CUSTOM_BASES = [
  { value: 'openai', label: 'OpenAI-compatible' },
  { value: 'anthropic', label: 'Anthropic-compatible' },
  { value: 'gemini', label: 'Gemini-compatible' },
  { value: 'cohere', label: 'Cohere-compatible' },
  { value: 'bedrock', label: 'Bedrock-compatible' },
]

export const catalogEntry = (name: string): CatalogEntry | undefined => PROVIDERS.find((p) => p.name === name)
