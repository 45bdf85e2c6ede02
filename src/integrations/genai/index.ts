export {
  genaiToChat,
  genaiToEmbedding,
  genaiThinkingToEffort,
  validateGenerateContentBody,
  GEMINI_ONLY_FIELDS,
  type GenerateContentBody,
} from './parse.js'
export { chatToGenerateContent, type GenerateContentResponse } from './response.js'
export { translateChatToGenAIStream } from './stream.js'
export { toGenAIError } from './errors.js'
export { genaiFilesBackend, type GenAIFilesBackend } from './files.js'
