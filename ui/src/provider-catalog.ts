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

export const PROVIDERS: CatalogEntry[] = [
  { name: 'openai', label: 'OpenAI', setup: 'api_key' },
  { name: 'anthropic', label: 'Anthropic', setup: 'api_key' },
  { name: 'gemini', label: 'Google Gemini (AI Studio)', setup: 'api_key' },
  {
    name: 'azure',
    label: 'Azure OpenAI',
    setup: 'azure',
    hint: 'Endpoint, API version and deployments; an API key or an Entra ID app',
  },
  {
    name: 'bedrock',
    label: 'AWS Bedrock',
    setup: 'bedrock',
    hint: 'AWS access keys and region, or a Bedrock API key',
  },
  {
    name: 'vertex',
    label: 'Google Vertex AI',
    setup: 'vertex',
    hint: 'A service account, project and region',
  },
  { name: 'cohere', label: 'Cohere', setup: 'api_key' },
  { name: 'mistral', label: 'Mistral', setup: 'api_key' },
  { name: 'groq', label: 'Groq', setup: 'api_key' },
  { name: 'xai', label: 'xAI (Grok)', setup: 'api_key' },
  { name: 'cerebras', label: 'Cerebras', setup: 'api_key' },
  { name: 'openrouter', label: 'OpenRouter', setup: 'api_key' },
  { name: 'perplexity', label: 'Perplexity', setup: 'api_key' },
  { name: 'deepseek', label: 'DeepSeek', setup: 'api_key' },
  { name: 'fireworks', label: 'Fireworks AI', setup: 'api_key' },
  { name: 'nebius', label: 'Nebius AI Studio', setup: 'api_key' },
  { name: 'parasail', label: 'Parasail', setup: 'api_key' },
  { name: 'huggingface', label: 'Hugging Face', setup: 'api_key' },
  {
    name: 'ollama',
    label: 'Ollama (self-hosted)',
    setup: 'self_hosted',
    keyless: true,
    hint: 'Runs without a key; point the base URL at your Ollama server',
  },
  {
    name: 'vllm',
    label: 'vLLM (self-hosted)',
    setup: 'self_hosted',
    keyless: true,
    needsBaseUrl: true,
    hint: 'Runs without a key; needs the base URL of your server',
  },
  {
    name: 'sgl',
    label: 'SGLang (self-hosted)',
    setup: 'self_hosted',
    keyless: true,
    needsBaseUrl: true,
    hint: 'Runs without a key; needs the base URL of your server',
  },
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
