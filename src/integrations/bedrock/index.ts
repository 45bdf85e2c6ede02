export { converseToChat, modelFromPath, validateConverseBody } from './parse.js'
export { chatToConverse, toConverseUsage, toStopReason } from './response.js'
export { translateChatToConverseStream, type ConverseEvent } from './stream.js'
export { toBedrockError, streamExceptionName, type BedrockErrorOut } from './errors.js'
