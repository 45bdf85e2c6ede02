export { responsesRequestToChat } from './responses-to-chat.js'
export { chatResponseToResponses, chatUsageToResponsesUsage } from './chat-to-responses.js'
export { chatStreamToResponses } from './chat-stream-to-responses.js'
export {
  textCompletionToChat,
  chatResponseToTextCompletion,
  chatStreamToTextCompletion,
  type TextCompletionChunk,
} from './text-completion.js'
