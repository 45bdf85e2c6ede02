// The drop-in routes' wire formats (parse and serialize), for src/http.
export {
  chatToCompletion,
  completeToMessages,
  translateChatToCompletionStream,
  validateCompleteBody,
} from './anthropic/complete.js'
export { estimatePromptTokens } from './anthropic/count-tokens.js'
export { toAnthropicError } from './anthropic/errors.js'
export { readModelPaging, toAnthropicModelPage } from './anthropic/models.js'
export { anthropicToChat, thinkingToEffort, validateMessagesBody } from './anthropic/parse.js'
export { chatToAnthropicMessage } from './anthropic/response.js'
export { translateChatToAnthropicStream } from './anthropic/stream.js'
export { streamExceptionName, toBedrockError } from './bedrock/errors.js'
export { StreamMeter } from './bedrock/invocation-metrics.js'
export type { InvokeExchange } from './bedrock/invoke-body.js'
export { detectInvokeFamily, INVOKE_EXCHANGES } from './bedrock/invoke-family.js'
export { converseToChat, modelFromPath, validateConverseBody } from './bedrock/parse.js'
export { chatToConverse } from './bedrock/response.js'
export { translateChatToConverseStream } from './bedrock/stream.js'
export * from './cohere/index.js'
export { toGenAIError } from './genai/errors.js'
export { genaiFilesBackend } from './genai/files.js'
export type { GenAIFilesBackend } from './genai/files.js'
export {
  GEMINI_ONLY_FIELDS,
  genaiThinkingToEffort,
  genaiToChat,
  genaiToEmbedding,
  validateGenerateContentBody,
} from './genai/parse.js'
export { chatToGenerateContent } from './genai/response.js'
export { translateChatToGenAIStream } from './genai/stream.js'
export { standInCallSignatures } from './signature-origin.js'
