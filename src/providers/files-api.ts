import { isAnthropicProvider } from './anthropic/files.js'
import {
  callBedrockAsOpenAI,
  isBedrockProvider,
  refuseBedrockFiles,
  refuseBedrockResults,
} from './bedrock/batches.js'
import {
  callGeminiAsOpenAI,
  isGeminiProvider,
  readGeminiBatchResults,
  refuseGeminiFiles,
} from './gemini/batches.js'
import {
  callAnthropicAsOpenAI,
  downloadAnthropicFile,
  readAnthropicBatchResults,
} from './anthropic/openai-files.js'
import * as openai from './openai/files.js'
import type { Attempt, FilesCall, JsonResult } from '../core/provider-adapter.js'

/**
 * The OpenAI-shaped files and batches calls of the `/v1` routes, by provider: Anthropic's own Files
 * and Message Batches APIs for Anthropic, Bedrock's model invocation jobs for Bedrock (batches only:
 * its files are S3 objects), OpenAI's (and its compatibles', Azure's) for the others. Each has
 * the signature of OpenAI's.
 */
export function callFilesApi<T>(a: Attempt, call: FilesCall): Promise<JsonResult<T>> {
  if (isAnthropicProvider(a.provider)) return callAnthropicAsOpenAI<T>(a, call)
  if (isBedrockProvider(a.provider)) return callBedrockAsOpenAI<T>(a, call)
  if (isGeminiProvider(a.provider)) return callGeminiAsOpenAI<T>(a, call)
  return openai.callOpenAIFilesApi<T>(a, call)
}

export const downloadFileContent: typeof openai.downloadFileContent = (a, fileId) => {
  if (isAnthropicProvider(a.provider)) return downloadAnthropicFile(a, fileId)
  if (isBedrockProvider(a.provider)) return refuseBedrockFiles()
  if (isGeminiProvider(a.provider)) return refuseGeminiFiles(a)
  return openai.downloadFileContent(a, fileId)
}

export const readBatchResults: typeof openai.readBatchResults = (a, batchId, maxBytes) => {
  if (isAnthropicProvider(a.provider)) return readAnthropicBatchResults(a, batchId, maxBytes)
  if (isBedrockProvider(a.provider)) return refuseBedrockResults()
  if (isGeminiProvider(a.provider)) return readGeminiBatchResults(a, batchId)
  return openai.readBatchResults(a, batchId, maxBytes)
}
