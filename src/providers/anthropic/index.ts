import { GatewayError } from '../../core/errors.js'
import type { ProviderConfig } from '../../core/schemas/index.js'
import type { ProviderAdapter } from '../types.js'

// Placeholder until the Anthropic translation lands in this folder.
export function createAnthropicAdapter(cfg: ProviderConfig): ProviderAdapter {
  const fail = () => Promise.reject(new GatewayError('unsupported_operation', `${cfg.name} is not available yet`))
  return { format: 'anthropic', chat: fail, chatStream: fail }
}
