import { cohereCommandExchange } from './cohere-command.js'
import { isObject, type InvokeBody, type InvokeExchange } from './invoke-body.js'
import { llamaExchange } from './llama.js'
import { mistralChatExchange, mistralTextExchange } from './mistral.js'
import { novaExchange } from './nova.js'
import { titanTextExchange } from './titan-text.js'

/** The native InvokeModel body formats this gateway reads. */
export type InvokeFamily =
  | 'anthropic'
  | 'llama'
  | 'mistral'
  | 'mistral-chat'
  | 'titan-text'
  | 'nova'
  | 'cohere-command'
  | 'titan-embedding'
  | 'cohere-embedding'

/** Chat families whose translation lives here; Anthropic's is the Anthropic integration's. */
export const INVOKE_EXCHANGES: Record<
  Exclude<InvokeFamily, 'anthropic' | 'titan-embedding' | 'cohere-embedding'>,
  (body: InvokeBody, model: string) => InvokeExchange
> = {
  llama: llamaExchange,
  mistral: mistralTextExchange,
  'mistral-chat': mistralChatExchange,
  'titan-text': titanTextExchange,
  nova: novaExchange,
  'cohere-command': cohereCommandExchange,
}

/** Which Bedrock model family a model id names, inference-profile and ARN prefixes included. */
function familyOfModel(modelId: string): InvokeFamily | undefined {
  const id = modelId.toLowerCase()
  if (/\banthropic[./]/.test(id)) return 'anthropic'
  if (/\bmeta\.llama/.test(id)) return 'llama'
  if (/\bmistral\.(mistral-large-2\d{3}|pixtral)/.test(id)) return 'mistral-chat'
  if (/\bmistral\./.test(id)) return 'mistral'
  if (/\bamazon\.nova/.test(id)) return 'nova'
  if (/\bamazon\.titan-(text|tg1)/.test(id)) return 'titan-text'
  if (/\bcohere\.command-r/.test(id)) return 'cohere-command'
  return undefined
}

/** Converse-style content: blocks keyed by kind (`{text}`, `{image}`), where Anthropic's have `type`. */
function hasUntypedBlocks(messages: unknown[]): boolean {
  return messages.some(
    (m) => isObject(m) && Array.isArray(m.content) && m.content.some((b) => isObject(b) && !('type' in b)),
  )
}

function hasTypedBlocks(messages: unknown[]): boolean {
  return messages.some(
    (m) => isObject(m) && Array.isArray(m.content) && m.content.some((b) => isObject(b) && 'type' in b),
  )
}

/**
 * The family of an InvokeModel body. The body's own markers decide first (`anthropic_version`,
 * `inputText`, `message`, `max_gen_len`, `schemaVersion`, Converse-style blocks); the model id
 * settles what the body leaves open (a bare `prompt`: Llama or Mistral; string `messages`: Claude,
 * Nova or Mistral Large 2), so a body sent to `openai/gpt-4o` is read by its shape alone.
 */
export function detectInvokeFamily(body: InvokeBody, modelId: string): InvokeFamily | undefined {
  const byModel = familyOfModel(modelId)
  if (body.anthropic_version !== undefined) return 'anthropic'
  if (Array.isArray(body.texts)) return 'cohere-embedding'
  if (body.inputText !== undefined) {
    const text = body.textGenerationConfig !== undefined || byModel === 'titan-text'
    return text ? 'titan-text' : 'titan-embedding'
  }
  if (body.message !== undefined && body.messages === undefined) return 'cohere-command'
  if (body.prompt !== undefined) {
    // Claude's old Text Completions, Cohere Command and AI21 take `prompt` too, in shapes not served here.
    if (body.max_tokens_to_sample !== undefined || /\b(anthropic|cohere|ai21)\./i.test(modelId))
      return undefined
    if (body.max_gen_len !== undefined) return 'llama'
    if (body.top_k !== undefined || body.stop !== undefined) return 'mistral'
    if (byModel === 'llama' || byModel === 'mistral') return byModel
    if (byModel === 'mistral-chat' || body.max_tokens !== undefined) return 'mistral'
    return 'llama'
  }
  if (Array.isArray(body.messages)) {
    const novaShape =
      body.schemaVersion !== undefined ||
      body.inferenceConfig !== undefined ||
      body.toolConfig !== undefined ||
      hasUntypedBlocks(body.messages) ||
      (Array.isArray(body.system) && hasUntypedBlocks([{ content: body.system }]))
    if (novaShape) return 'nova'
    if (byModel === 'anthropic' || byModel === 'nova' || byModel === 'mistral-chat') return byModel
    if (byModel === 'mistral') return 'mistral-chat'
    if (typeof body.system === 'string' || Array.isArray(body.system) || hasTypedBlocks(body.messages))
      return 'anthropic'
    return 'mistral-chat'
  }
  return undefined
}
