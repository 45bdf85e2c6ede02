import { Type, type Static } from '@sinclair/typebox'

/**
 * The unified request is OpenAI's chat completion, plus Bifrost's `fallbacks`. Unknown fields are
 * kept (they pass through to providers that accept them), so every object schema is open.
 */

const Open = { additionalProperties: true } as const

export const ContentPartSchema = Type.Object(
  {
    type: Type.String(),
    text: Type.Optional(Type.String()),
    image_url: Type.Optional(Type.Object({ url: Type.String(), detail: Type.Optional(Type.String()) }, Open)),
    input_audio: Type.Optional(Type.Object({ data: Type.String(), format: Type.String() }, Open)),
    file: Type.Optional(
      Type.Object(
        {
          file_data: Type.Optional(Type.String()),
          file_id: Type.Optional(Type.String()),
          filename: Type.Optional(Type.String()),
        },
        Open,
      ),
    ),
    cache_control: Type.Optional(
      Type.Object({ type: Type.String(), ttl: Type.Optional(Type.String()) }, Open),
    ),
  },
  Open,
)
export type ContentPart = Static<typeof ContentPartSchema>

export const ToolCallSchema = Type.Object(
  {
    id: Type.String(),
    type: Type.Optional(Type.String()),
    function: Type.Object({ name: Type.String(), arguments: Type.String() }, Open),
    /** Gemini's thought signature rides here, as Google's own OpenAI-compatible API does. */
    extra_content: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  Open,
)
export type ToolCall = Static<typeof ToolCallSchema>

/** Reasoning as OpenRouter and Bifrost carry it: signed or encrypted blocks survive the round trip. */
export const ReasoningDetailSchema = Type.Object(
  {
    type: Type.String(), // 'reasoning.text' | 'reasoning.encrypted' | 'reasoning.summary'
    index: Type.Optional(Type.Number()),
    text: Type.Optional(Type.String()),
    signature: Type.Optional(Type.String()),
    data: Type.Optional(Type.String()),
    summary: Type.Optional(Type.String()),
    /** Whose reasoning this is (OpenRouter's tag, e.g. `anthropic-claude-v1`); signatures go back only to their issuer. */
    format: Type.Optional(Type.String()),
  },
  Open,
)
export type ReasoningDetail = Static<typeof ReasoningDetailSchema>

export const ChatMessageSchema = Type.Object(
  {
    role: Type.Union([
      Type.Literal('system'),
      Type.Literal('developer'),
      Type.Literal('user'),
      Type.Literal('assistant'),
      Type.Literal('tool'),
      Type.Literal('function'),
    ]),
    content: Type.Optional(Type.Union([Type.String(), Type.Array(ContentPartSchema), Type.Null()])),
    name: Type.Optional(Type.String()),
    tool_calls: Type.Optional(Type.Array(ToolCallSchema)),
    tool_call_id: Type.Optional(Type.String()),
    reasoning: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    reasoning_details: Type.Optional(Type.Array(ReasoningDetailSchema)),
    refusal: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  },
  Open,
)
export type ChatMessage = Static<typeof ChatMessageSchema>

export const ToolSchema = Type.Object(
  {
    type: Type.String(),
    function: Type.Optional(
      Type.Object(
        {
          name: Type.String(),
          description: Type.Optional(Type.String()),
          parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          strict: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
        },
        Open,
      ),
    ),
  },
  Open,
)
export type Tool = Static<typeof ToolSchema>

export const FallbacksSchema = Type.Array(Type.String())

export const ChatRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1 }),
    messages: Type.Array(ChatMessageSchema, { minItems: 1 }),
    stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    stream_options: Type.Optional(
      Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }, Open), Type.Null()]),
    ),
    max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    max_completion_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    temperature: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    top_p: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    n: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    stop: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String()), Type.Null()])),
    seed: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    presence_penalty: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    frequency_penalty: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    tools: Type.Optional(Type.Array(ToolSchema)),
    tool_choice: Type.Optional(Type.Unknown()),
    parallel_tool_calls: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    response_format: Type.Optional(Type.Unknown()),
    reasoning_effort: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    user: Type.Optional(Type.String()),
    fallbacks: Type.Optional(FallbacksSchema),
  },
  Open,
)
export type ChatRequest = Static<typeof ChatRequestSchema>

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  prompt_tokens_details?: {
    /** Tokens read from the provider's prompt cache; a subset of prompt_tokens. */
    cached_tokens?: number
    /** Tokens written to the provider's prompt cache (Anthropic); a subset of prompt_tokens. */
    cache_creation_tokens?: number
    /** Bifrost's name for the same cache writes, on OpenAI-shaped answers. */
    cached_write_tokens?: number
    /** The part of the cache writes kept for one hour (Anthropic, Bedrock Claude), billed apart from 5-minute writes. */
    cached_write_1h_tokens?: number
    audio_tokens?: number
    [k: string]: unknown
  }
  completion_tokens_details?: {
    reasoning_tokens?: number
    audio_tokens?: number
    [k: string]: unknown
  }
  [k: string]: unknown
}

export interface AssistantMessage {
  role: 'assistant'
  content: string | null
  tool_calls?: ToolCall[]
  reasoning?: string
  reasoning_details?: ReasoningDetail[]
  refusal?: string | null
  [k: string]: unknown
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call' | string

export interface ChatChoice {
  index: number
  message: AssistantMessage
  finish_reason: FinishReason | null
  logprobs?: unknown
}

export interface ChatResponse {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  choices: ChatChoice[]
  usage?: Usage
  system_fingerprint?: string | null
  service_tier?: string | null
  [k: string]: unknown
}

export interface ToolCallDelta {
  index: number
  id?: string
  type?: 'function'
  function?: { name?: string; arguments?: string }
  extra_content?: Record<string, unknown>
}

export interface ChatDelta {
  role?: 'assistant'
  content?: string | null
  tool_calls?: ToolCallDelta[]
  reasoning?: string
  reasoning_details?: ReasoningDetail[]
  refusal?: string | null
  [k: string]: unknown
}

export interface ChatChunkChoice {
  index: number
  delta: ChatDelta
  finish_reason: FinishReason | null
  logprobs?: unknown
}

export interface ChatChunk {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
  choices: ChatChunkChoice[]
  usage?: Usage | null
  system_fingerprint?: string | null
  [k: string]: unknown
}
