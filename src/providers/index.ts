import { GatewayError } from '../core/errors.js'
import type { ProviderConfig } from '../core/schemas/index.js'
import { createAnthropicAdapter } from './anthropic/index.js'
import { createAzureAdapter } from './azure/index.js'
import { createBedrockAdapter } from './bedrock/index.js'
import { createCohereAdapter } from './cohere/index.js'
import { createGeminiAdapter } from './gemini/index.js'
import { createOpenAIAdapter } from './openai/index.js'
import { OPENAI_COMPATIBLE, openAICompatibleSpec } from './openai-compatible.js'
import { createVertexAdapter } from './vertex/index.js'
import type { ProviderAdapter } from '../core/provider-adapter.js'

// The adapter contract lives in core; the adapter type is re-exported for the folders that build adapters from here.
export type { ProviderAdapter } from '../core/provider-adapter.js'
export { OPENAI_COMPATIBLE } from './openai-compatible.js'
export { parseSse } from './sse.js'
export { assistantMessage, type AnswerParts } from './assistant-message.js'

/** Providers with their own wire format, beyond the OpenAI-compatible table. */
const NATIVE: Record<string, (cfg: ProviderConfig) => ProviderAdapter> = {
  anthropic: createAnthropicAdapter,
  azure: createAzureAdapter,
  bedrock: createBedrockAdapter,
  cohere: createCohereAdapter,
  gemini: createGeminiAdapter,
  vertex: createVertexAdapter,
}

/** Built-in provider names a `provider/model` may start with. */
export const BUILTIN_PROVIDERS: readonly string[] = [
  ...Object.keys(OPENAI_COMPATIBLE),
  ...Object.keys(NATIVE),
].sort()

/** Names come from callers: only the tables' own entries count, never `constructor` or `__proto__`. */
export function isBuiltinProvider(name: string): boolean {
  return Object.hasOwn(OPENAI_COMPATIBLE, name) || Object.hasOwn(NATIVE, name)
}

/** Whether a provider can run without a key (self-hosted engines, or a custom provider that says so). */
export function isKeyless(cfg: ProviderConfig): boolean {
  if (cfg.custom_provider_config?.is_key_less) return true
  return openAICompatibleSpec(cfg.name)?.keyless ?? false
}

/**
 * Builds the adapter for a configured provider: a built-in by its name, or a custom provider
 * (`custom_provider_config.base_provider_type`) on the base type's wire format.
 */
export function createAdapter(cfg: ProviderConfig): ProviderAdapter {
  const custom = cfg.custom_provider_config
  const type = custom ? custom.base_provider_type : cfg.name
  if (custom && isBuiltinProvider(cfg.name)) {
    throw new GatewayError(
      'invalid_request',
      `custom provider name ${cfg.name} collides with a built-in provider`,
      {
        param: 'provider',
      },
    )
  }
  const native = Object.hasOwn(NATIVE, type) ? NATIVE[type] : undefined
  if (native) return native(cfg)
  const spec = openAICompatibleSpec(type)
  if (spec) {
    return createOpenAIAdapter(
      cfg,
      custom ? { ...spec, baseUrl: cfg.network_config.base_url ?? spec.baseUrl } : spec,
    )
  }
  throw new GatewayError('unknown_provider', `unknown provider type ${type}`, { param: 'provider' })
}
export {
  batchPath,
  callAnthropicObjects,
  filePath,
  fromFilePart,
  streamAnthropicObjects,
} from './anthropic/files.js'
export type { AnthropicPage } from './anthropic/files.js'
export { ANTHROPIC_NATIVE_FIELDS } from './anthropic/request.js'
export { encodeEvent, encodeException } from './bedrock/eventstream.js'
export { callBedrockControlPlane, jobPath } from './bedrock/jobs.js'
export { BEDROCK_REASONING_FORMAT } from './bedrock/types.js'
export type {
  ConverseContentBlock,
  ConverseRequest,
  ConverseResponse,
  ConverseStreamEvents,
  ConverseUsage,
} from './bedrock/types.js'
export { cohereTokenize } from './cohere/tokenize.js'
export type * from './cohere/types.js'
export { callFilesApi, downloadFileContent, readBatchResults } from './files-api.js'
export { deleteGeminiFile, getGeminiFile, listGeminiFiles, uploadGeminiFile } from './gemini/files.js'
export type { GeminiFile, GeminiFileList, GeminiUpload } from './gemini/files.js'
export { callOpenAIFilesApi, downloadContent } from './openai/files.js'
export { useGlobalProxy } from './proxy.js'
export type { GlobalProxyConfig } from './proxy.js'
