/** Bedrock Runtime's Converse API wire types (as JSON over restJson1; blobs are base64 strings). */

/** A cache point closes the cached prefix before it; `ttl` is `5m` (default) or `1h`. */
export interface ConverseCachePoint {
  type: string
  ttl?: string
}

export interface ConverseContentBlock {
  text?: string
  image?: { format: string; source: { bytes?: string; s3Location?: unknown } }
  document?: { format: string; name: string; source: { bytes?: string } }
  toolUse?: { toolUseId: string; name: string; input: unknown }
  toolResult?: {
    toolUseId: string
    content: { text?: string; json?: unknown; image?: unknown }[]
    status?: 'success' | 'error'
  }
  reasoningContent?: { reasoningText?: { text: string; signature?: string }; redactedContent?: string }
  cachePoint?: ConverseCachePoint
  [k: string]: unknown
}

export interface ConverseMessage {
  role: 'user' | 'assistant'
  content: ConverseContentBlock[]
}

export interface ConverseToolSpec {
  toolSpec?: { name: string; description?: string; inputSchema: { json: unknown } }
  cachePoint?: ConverseCachePoint
}

export interface ConverseRequest {
  messages: ConverseMessage[]
  system?: { text?: string; cachePoint?: ConverseCachePoint }[]
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] }
  toolConfig?: {
    tools: ConverseToolSpec[]
    toolChoice?: { auto?: object; any?: object; tool?: { name: string } }
  }
  additionalModelRequestFields?: Record<string, unknown>
  /** Structured output: the schema travels as a JSON string. */
  outputConfig?: {
    textFormat: {
      type: 'json_schema'
      structure: { jsonSchema: { schema: string; name?: string; description?: string } }
    }
  }
  [k: string]: unknown
}

export interface ConverseUsage {
  inputTokens: number
  outputTokens: number
  totalTokens: number
  cacheReadInputTokens?: number
  cacheWriteInputTokens?: number
  /** The writes split by cache point lifetime. */
  cacheDetails?: { ttl: string; inputTokens: number }[]
}

export interface ConverseResponse {
  output: { message?: ConverseMessage }
  stopReason: string
  usage: ConverseUsage
  metrics?: { latencyMs: number }
  additionalModelResponseFields?: unknown
  [k: string]: unknown
}

/** ConverseStream's events, each the payload of one event-stream message named by its key. */
export interface ConverseStreamEvents {
  messageStart: { role: 'assistant' }
  contentBlockStart: { contentBlockIndex: number; start: { toolUse?: { toolUseId: string; name: string } } }
  contentBlockDelta: {
    contentBlockIndex: number
    delta: {
      text?: string
      toolUse?: { input: string }
      reasoningContent?: { text?: string; signature?: string; redactedContent?: string }
    }
  }
  contentBlockStop: { contentBlockIndex: number }
  messageStop: { stopReason: string; additionalModelResponseFields?: unknown }
  metadata: { usage: ConverseUsage; metrics?: { latencyMs: number } }
}

/** Whose reasoning signatures these are: Bedrock's Converse (Claude on Bedrock). */
export const BEDROCK_REASONING_FORMAT = 'bedrock-converse'
