import type { CancelSignal } from './cancel.js'
import type { BatchResultsResponse } from './schemas/files.js'
import type {
  ChatChunk,
  ChatRequest,
  ChatResponse,
  EmbeddingRequest,
  EmbeddingResponse,
  ImageGenerationRequest,
  ImageGenerationResponse,
  ModelEntry,
  ProviderConfig,
  ProviderKey,
  ResponsesRequest,
  ResponsesResponse,
  ResponsesStreamEvent,
  RerankRequest,
  RerankResponse,
  SpeechRequest,
  TextCompletionRequest,
  TranscriptionRequest,
  TextCompletionResponse,
  Usage,
} from './schemas/index.js'

/** Everything one upstream attempt needs: where, with which key, for which model, until when. */
export interface Attempt {
  provider: ProviderConfig
  key: ProviderKey
  /** The key's secret with `env.VAR` resolved. Never logged. */
  secret: string
  /** The model name as the provider knows it (prefix removed, alias applied). */
  model: string
  /** Aborted when the client goes away or the gateway gives up. */
  signal: CancelSignal
  /** Time allowed until the response headers arrive. */
  timeoutMs: number
  /** Longest silence allowed between two chunks of a streamed body. */
  idleTimeoutMs: number
  requestId: string
  /** Headers to add to the upstream request (network_config.extra_headers, x-bf-eh-*). */
  extraHeaders: Record<string, string>
  /**
   * The caller relays an OpenAI-format stream to an OpenAI-format client: an OpenAI-format
   * provider may hand over raw `frames` instead of one item per chunk.
   */
  passthrough?: boolean
}

/** A non-streamed result: the body in unified form, plus the exact JSON text when it needs no rewrite. */
export interface JsonResult<T> {
  body: T
  /** The upstream body, byte for byte, when `body` is exactly what it says. Sent as is. */
  raw?: string
  usage?: Usage
  /** Response headers from the provider worth forwarding (request ids, rate limits). */
  headers?: Record<string, string>
}

/**
 * One streamed chat chunk. Translating providers give `chunk`; OpenAI-format providers give the
 * upstream `data` text unchanged (parsed lazily, only when someone needs the object).
 */
export interface ChatStreamItem {
  chunk?: ChatChunk
  data?: string
  /** Usage carried by this chunk, already read. */
  usage?: Usage
  /** True for the trailing `choices: []` chunk that exists only to carry usage. */
  usageOnly?: boolean
  /**
   * The prompt's tokens as the upstream reported them before any output (Anthropic's message_start),
   * for clients that read input tokens only at the start. Not the final usage: `usage` is.
   */
  promptUsage?: Usage
  /**
   * Complete OpenAI-format SSE frames (`data: {...}\n\n`, possibly several), to be written to an
   * OpenAI-format client as they are. Only given when the attempt asked for `passthrough`.
   */
  frames?: Buffer
  /** `frames` as latin1 text (one char per byte), which the relay has anyway: for observers. */
  latin1?: string
  /** Characters of generated content in `frames`, for estimating usage a provider never sent. */
  contentChars?: number
}

/** A non-JSON answer (speech audio, a plain-text transcript): its bytes and their content type. */
export interface PayloadResult extends JsonResult<{ content_type: string; bytes: number }> {
  payload: Buffer
  contentType: string
}

export interface ResponsesStreamItem {
  event: ResponsesStreamEvent
  usage?: Usage
}

export interface StreamResult<T> {
  items: AsyncIterable<T>
  headers?: Record<string, string>
}

/**
 * A provider's wire format. Optional operations the gateway can derive: a provider without
 * `responses` is served through chat, one without `textCompletion` through chat too.
 */
export interface ProviderAdapter {
  /** The wire format, for integration routes that can forward a native body unchanged. */
  readonly format: 'openai' | 'anthropic' | 'gemini' | string
  chat(a: Attempt, req: ChatRequest): Promise<JsonResult<ChatResponse>>
  chatStream(a: Attempt, req: ChatRequest): Promise<StreamResult<ChatStreamItem>>
  textCompletion?(a: Attempt, req: TextCompletionRequest): Promise<JsonResult<TextCompletionResponse>>
  textCompletionStream?(a: Attempt, req: TextCompletionRequest): Promise<StreamResult<ChatStreamItem>>
  responses?(a: Attempt, req: ResponsesRequest): Promise<JsonResult<ResponsesResponse>>
  responsesStream?(a: Attempt, req: ResponsesRequest): Promise<StreamResult<ResponsesStreamItem>>
  embeddings?(a: Attempt, req: EmbeddingRequest): Promise<JsonResult<EmbeddingResponse>>
  listModels?(a: Attempt): Promise<ModelEntry[]>
  /** The request's input tokens as the provider counts them (Anthropic count_tokens, Gemini countTokens). */
  countTokens?(a: Attempt, req: ChatRequest): Promise<JsonResult<{ input_tokens: number }>>
  /** Orders documents by relevance to a query (Cohere's rerank, and engines that copy it). */
  rerank?(a: Attempt, req: RerankRequest): Promise<JsonResult<RerankResponse>>
  imageGeneration?(a: Attempt, req: ImageGenerationRequest): Promise<JsonResult<ImageGenerationResponse>>
  speech?(a: Attempt, req: SpeechRequest): Promise<PayloadResult>
  /** A JSON transcript (`json`, `verbose_json`), or a `PayloadResult` for `text`, `srt`, `vtt`. */
  transcription?(a: Attempt, req: TranscriptionRequest): Promise<JsonResult<unknown> | PayloadResult>
}

/** Builds the adapter for one provider entry (built-in, table-driven or custom). */
export type AdapterFactory = (provider: ProviderConfig) => ProviderAdapter

/** One call to a provider's files, batches or containers API: method, path, query and body. */
export interface FilesCall {
  method: 'GET' | 'POST' | 'DELETE'
  /** `/files`, `/files/{id}`, `/batches/{id}/cancel` ... */
  path: string
  /** Query parameters passed on as given (list filters and cursors). */
  query?: Record<string, string>
  /** A JSON body (batch creation), or the caller's multipart bytes as they arrive (file upload). */
  body?: string | AsyncIterable<Buffer>
  contentType?: string
  contentLength?: number
}

/** A finished batch's results as a provider reads them; the route adds Bifrost's `extra_fields`. */
export type BatchResults = JsonResult<Omit<BatchResultsResponse, 'extra_fields'>>

/** One piece of a downloaded file or a batch's results, relayed to the caller as it arrives. */
export interface FileContentChunk {
  bytes: Buffer
  /** Never set: a download has no token usage. */
  usage?: undefined
}
