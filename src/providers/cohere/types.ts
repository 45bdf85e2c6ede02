/**
 * Cohere's v2 wire format (api.cohere.com/v2): chat, its SSE stream, embed and rerank. Shared by
 * the provider (which speaks it upstream) and the `/cohere` drop-in routes (which speak it to
 * callers).
 */

export interface CohereTextBlock {
  type: 'text'
  text: string
}

export interface CohereContentBlock {
  type: 'text' | 'image_url' | 'thinking' | 'document' | string
  text?: string
  thinking?: string
  image_url?: { url: string; detail?: string }
  document?: { data: unknown; id?: string }
  [k: string]: unknown
}

export interface CohereToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

export interface CohereMessage {
  role: 'system' | 'user' | 'assistant' | 'tool'
  content?: string | CohereContentBlock[]
  tool_calls?: CohereToolCall[]
  tool_call_id?: string
  tool_plan?: string
  citations?: unknown[]
  [k: string]: unknown
}

export interface CohereTool {
  type: 'function'
  function: { name: string; description?: string; parameters?: Record<string, unknown> }
}

export interface CohereChatRequest {
  model: string
  messages: CohereMessage[]
  stream?: boolean
  tools?: CohereTool[]
  strict_tools?: boolean
  tool_choice?: 'REQUIRED' | 'NONE'
  response_format?: { type: 'text' | 'json_object'; json_schema?: unknown }
  max_tokens?: number
  stop_sequences?: string[]
  temperature?: number
  seed?: number
  frequency_penalty?: number
  presence_penalty?: number
  k?: number
  p?: number
  thinking?: { type: 'enabled' | 'disabled'; token_budget?: number }
  [k: string]: unknown
}

export type CohereFinishReason =
  'COMPLETE' | 'STOP_SEQUENCE' | 'MAX_TOKENS' | 'TOOL_CALL' | 'ERROR' | 'TIMEOUT' | string

export interface CohereUsage {
  billed_units?: {
    input_tokens?: number
    output_tokens?: number
    search_units?: number
    classifications?: number
  }
  tokens?: { input_tokens?: number; output_tokens?: number }
  cached_tokens?: number
}

export interface CohereChatResponse {
  id: string
  finish_reason: CohereFinishReason
  message: {
    role: 'assistant'
    content?: CohereContentBlock[]
    tool_plan?: string
    tool_calls?: CohereToolCall[]
    citations?: unknown[]
  }
  usage?: CohereUsage
  logprobs?: unknown
}

/** One event of the `/v2/chat` stream; every event's `type` is also its SSE `event:` name. */
export interface CohereStreamEvent {
  type:
    | 'message-start'
    | 'content-start'
    | 'content-delta'
    | 'content-end'
    | 'tool-plan-delta'
    | 'tool-call-start'
    | 'tool-call-delta'
    | 'tool-call-end'
    | 'citation-start'
    | 'citation-end'
    | 'message-end'
    | 'debug'
    | string
  id?: string
  index?: number
  delta?: {
    message?: {
      role?: 'assistant'
      content?: { type?: string; text?: string; thinking?: string } | unknown[]
      tool_plan?: string
      tool_calls?: {
        id?: string
        type?: 'function'
        function?: { name?: string; arguments?: string }
      }
      citations?: unknown
    }
    finish_reason?: CohereFinishReason
    usage?: CohereUsage
    error?: string
  }
  [k: string]: unknown
}

export type CohereEmbeddingType = 'float' | 'int8' | 'uint8' | 'binary' | 'ubinary' | 'base64'

export interface CohereEmbedRequest {
  model: string
  input_type?: string
  texts?: string[]
  images?: string[]
  inputs?: { content: CohereContentBlock[] }[]
  embedding_types?: CohereEmbeddingType[]
  output_dimension?: number
  max_tokens?: number
  truncate?: 'NONE' | 'START' | 'END'
  [k: string]: unknown
}

export interface CohereApiMeta {
  api_version?: { version: string; is_deprecated?: boolean; is_experimental?: boolean }
  billed_units?: CohereUsage['billed_units']
  tokens?: CohereUsage['tokens']
  warnings?: string[]
}

export interface CohereEmbedResponse {
  id: string
  response_type?: 'embeddings_by_type' | 'embeddings_floats'
  embeddings: Partial<Record<CohereEmbeddingType, unknown[]>> | number[][]
  texts?: string[]
  images?: unknown[]
  meta?: CohereApiMeta
}

export interface CohereRerankRequest {
  model: string
  query: string
  documents: (string | { text: string; [k: string]: unknown })[]
  top_n?: number
  max_tokens_per_doc?: number
  priority?: number
  return_documents?: boolean
  [k: string]: unknown
}

export interface CohereRerankResponse {
  id?: string
  results: { index: number; relevance_score: number; document?: { text: string } }[]
  meta?: CohereApiMeta
}

/** Cohere's error body. */
export interface CohereErrorBody {
  id?: string
  message: string
}
