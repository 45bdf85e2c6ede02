export {
  anthropicToChat,
  thinkingToEffort,
  validateMessagesBody,
  ANTHROPIC_REASONING_FORMAT,
} from './parse.js'
export type { AnthropicMessagesBody } from './parse.js'
export { chatToAnthropicMessage, toAnthropicUsage } from './response.js'
export { translateChatToAnthropicStream, type AnthropicEvent } from './stream.js'
export { toAnthropicError } from './errors.js'
export { estimatePromptTokens } from './count-tokens.js'
export { standInCallSignatures } from '../signature-origin.js'
export {
  chatToCompletion,
  completeToMessages,
  translateChatToCompletionStream,
  validateCompleteBody,
} from './complete.js'
export { readModelPaging, toAnthropicModelPage } from './models.js'
