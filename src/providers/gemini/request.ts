import { GatewayError } from '../../core/errors.js'
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  ReasoningDetail,
  ToolCall,
} from '../../core/schemas/index.js'

/** One part of a Gemini `Content`, as generateContent takes and returns it. */
export interface GeminiPart {
  text?: string
  /** True on a part that is a summary of the model's thinking. */
  thought?: boolean
  /** Opaque, base64; must go back on the same part in the next request. */
  thoughtSignature?: string
  inlineData?: { mimeType: string; data: string }
  fileData?: { mimeType?: string; fileUri: string }
  functionCall?: { id?: string; name: string; args?: Record<string, unknown> }
  functionResponse?: { id?: string; name: string; response: Record<string, unknown> }
  [k: string]: unknown
}

export interface GeminiContent {
  role?: string
  parts?: GeminiPart[]
}

export interface GeminiFunctionDeclaration {
  name: string
  description?: string
  parametersJsonSchema?: Record<string, unknown>
}

export interface GeminiRequest {
  contents: GeminiContent[]
  systemInstruction?: { parts: GeminiPart[] }
  tools?: Record<string, unknown>[]
  toolConfig?: Record<string, unknown>
  generationConfig?: Record<string, unknown>
  safetySettings?: unknown
  cachedContent?: unknown
  labels?: unknown
}

/** Tags the reasoning details this adapter emits, so that only Gemini's own signatures go back to Gemini. */
export const GEMINI_REASONING_FORMAT = 'google-gemini-v1'

/** A reasoning detail with OpenRouter's `format`, which names the provider that signed it. */
export type FormattedReasoningDetail = ReasoningDetail & { format?: string }

/** reasoning_effort as a thinking budget in tokens; 512 is the smallest budget every 2.5 model accepts. */
const THINKING_BUDGETS: Record<string, number> = { minimal: 512, low: 1024, medium: 8192, high: 24576 }

/** Gemini tool kinds that are not function declarations; a caller may send them as they are. */
const NATIVE_TOOL_KEYS = [
  'googleSearch',
  'googleSearchRetrieval',
  'codeExecution',
  'urlContext',
  'fileSearch',
  'googleMaps',
  'computerUse',
  'functionDeclarations',
]

/**
 * Builds the body of generateContent / streamGenerateContent from a unified request. The body is
 * built field by field, so OpenAI-only fields (stream_options, user, logit_bias, fallbacks ...)
 * never reach Google, which rejects unknown fields.
 */
export function toGeminiRequest(req: ChatRequest): GeminiRequest {
  const extra = req as Record<string, unknown>
  const { contents, system } = toContents(req.messages)
  const body: GeminiRequest = { contents }
  if (system.length) body.systemInstruction = { parts: [{ text: system.join('\n\n') }] }

  const tools = toTools(req.tools)
  if (tools.length) body.tools = tools
  const toolConfig = toToolConfig(req.tool_choice)
  if (toolConfig) body.toolConfig = toolConfig
  else if (isRecord(extra.toolConfig)) body.toolConfig = extra.toolConfig

  const generationConfig = toGenerationConfig(req, extra)
  if (Object.keys(generationConfig).length) body.generationConfig = generationConfig

  // Gemini-native fields a caller may add to the unified request.
  if (extra.safetySettings !== undefined) body.safetySettings = extra.safetySettings
  if (extra.cachedContent !== undefined) body.cachedContent = extra.cachedContent
  if (extra.labels !== undefined) body.labels = extra.labels
  return body
}

function toGenerationConfig(req: ChatRequest, extra: Record<string, unknown>): Record<string, unknown> {
  const gc: Record<string, unknown> = {}
  const set = (key: string, value: unknown) => {
    if (value !== undefined && value !== null) gc[key] = value
  }
  set('temperature', req.temperature)
  set('topP', req.top_p)
  set('topK', typeof extra.top_k === 'number' ? extra.top_k : undefined)
  set('maxOutputTokens', req.max_completion_tokens ?? req.max_tokens)
  set('stopSequences', typeof req.stop === 'string' ? [req.stop] : req.stop)
  set('candidateCount', req.n)
  set('seed', req.seed)
  set('presencePenalty', req.presence_penalty)
  set('frequencyPenalty', req.frequency_penalty)

  const format = isRecord(req.response_format) ? req.response_format : undefined
  if (format?.type === 'json_object') {
    gc.responseMimeType = 'application/json'
  } else if (format?.type === 'json_schema') {
    gc.responseMimeType = 'application/json'
    const schema = isRecord(format.json_schema) ? format.json_schema.schema : undefined
    // responseJsonSchema takes full JSON Schema; responseSchema only an OpenAPI subset.
    if (isRecord(schema)) gc.responseJsonSchema = schema
  }

  const budget = req.reasoning_effort ? THINKING_BUDGETS[req.reasoning_effort] : undefined
  if (budget !== undefined) gc.thinkingConfig = { thinkingBudget: budget, includeThoughts: true }
  else if (req.reasoning_effort === 'none') gc.thinkingConfig = { thinkingBudget: 0 }

  // Native settings win over translated ones: they are the caller's most specific word.
  if (isRecord(extra.generationConfig)) {
    // Gemini refuses both schema fields at once; the caller's own one stands.
    if (extra.generationConfig.responseSchema != null) delete gc.responseJsonSchema
    Object.assign(gc, extra.generationConfig)
  }
  if (isRecord(extra.thinkingConfig)) gc.thinkingConfig = extra.thinkingConfig
  return gc
}

function toTools(tools: ChatRequest['tools']): Record<string, unknown>[] {
  if (!tools?.length) return []
  const declarations: GeminiFunctionDeclaration[] = []
  const native: Record<string, unknown>[] = []
  for (const t of tools) {
    const fn = t.function
    if (t.type === 'function' && fn) {
      const d: GeminiFunctionDeclaration = { name: fn.name }
      if (fn.description) d.description = fn.description
      // parametersJsonSchema takes an OpenAI tool's schema as is; `parameters` is an OpenAPI subset
      // that rejects additionalProperties, $defs, const and empty object properties.
      if (fn.parameters) d.parametersJsonSchema = fn.parameters
      declarations.push(d)
    } else if (NATIVE_TOOL_KEYS.some((k) => k in t)) {
      const { type: _type, ...rest } = t
      native.push(rest)
    }
  }
  return declarations.length ? [{ functionDeclarations: declarations }, ...native] : native
}

function toToolConfig(choice: unknown): Record<string, unknown> | undefined {
  if (choice === undefined || choice === null) return undefined
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } }
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } }
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } }
  if (isRecord(choice) && isRecord(choice.function) && typeof choice.function.name === 'string') {
    return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } }
  }
  throw new GatewayError('invalid_request', 'tool_choice must be auto, none, required or a function', {
    param: 'tool_choice',
    retryable: false,
  })
}

/**
 * Messages as Gemini contents: system and developer text go to systemInstruction, the assistant
 * speaks as `model`, tool results travel as functionResponse parts of a `user` turn, and
 * consecutive turns of one role are merged (Gemini expects turns to alternate).
 */
export function toContents(messages: ChatMessage[]): { contents: GeminiContent[]; system: string[] } {
  const contents: GeminiContent[] = []
  const system: string[] = []
  // Gemini names the function a result is for; OpenAI names only the call id.
  const callNames = new Map<string, string>()
  const push = (role: 'user' | 'model', parts: GeminiPart[]) => {
    if (!parts.length) return
    const last = contents[contents.length - 1]
    if (last?.role === role && last.parts) last.parts.push(...parts)
    else contents.push({ role, parts })
  }
  messages.forEach((m, i) => {
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = textOf(m.content)
        if (text) system.push(text)
        break
      }
      case 'user':
        push('user', userParts(m.content, `messages[${i}].content`))
        break
      case 'assistant':
        for (const tc of m.tool_calls ?? []) callNames.set(tc.id, tc.function.name)
        push('model', assistantParts(m))
        break
      case 'tool':
      case 'function':
        push('user', [functionResponsePart(m, callNames)])
        break
    }
  })
  return { contents, system }
}

function userParts(content: ChatMessage['content'], path: string): GeminiPart[] {
  if (typeof content === 'string') return content ? [{ text: content }] : []
  if (!Array.isArray(content)) return []
  const parts: GeminiPart[] = []
  content.forEach((p, j) => {
    const part = contentPart(p, `${path}[${j}]`)
    if (part) parts.push(part)
  })
  return parts
}

function contentPart(p: ContentPart, path: string): GeminiPart | undefined {
  switch (p.type) {
    case 'text':
    case 'input_text':
      return p.text ? { text: p.text } : undefined
    case 'image_url':
      return mediaPart(p.image_url?.url, 'image/jpeg', path)
    case 'input_audio':
      if (!p.input_audio) return undefined
      return { inlineData: { mimeType: `audio/${p.input_audio.format}`, data: p.input_audio.data } }
    case 'file': {
      const f = p.file
      if (f?.file_data) {
        const data = f.file_data.startsWith('data:')
          ? f.file_data
          : `data:${guessMime(f.filename) ?? 'application/pdf'};base64,${f.file_data}`
        return mediaPart(data, 'application/pdf', path)
      }
      if (f?.file_id)
        return { fileData: { fileUri: f.file_id, mimeType: guessMime(f.filename) ?? 'application/pdf' } }
      return undefined
    }
    default:
      throw new GatewayError('invalid_request', `content part type ${p.type} is not supported by Gemini`, {
        param: path,
        retryable: false,
      })
  }
}

/** A data URL becomes inline bytes; an http(s) or gs:// URL a file reference Gemini fetches itself. */
function mediaPart(url: string | undefined, defaultMime: string, path: string): GeminiPart {
  if (url?.startsWith('data:')) {
    const comma = url.indexOf(',')
    const meta = url.slice(5, comma === -1 ? undefined : comma)
    const payload = comma === -1 ? '' : url.slice(comma + 1)
    const [mime, ...params] = meta.split(';')
    const base64 = params.includes('base64')
    return {
      inlineData: {
        mimeType: mime || defaultMime,
        data: base64 ? payload : Buffer.from(decodeURIComponent(payload), 'utf8').toString('base64'),
      },
    }
  }
  if (url && /^(https?|gs):\/\//i.test(url)) {
    return { fileData: { fileUri: url, mimeType: guessMime(url) ?? defaultMime } }
  }
  throw new GatewayError('invalid_request', 'a media URL must be a data URL or an http(s) URL', {
    param: path,
    retryable: false,
  })
}

const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
  txt: 'text/plain',
  mp3: 'audio/mp3',
  wav: 'audio/wav',
  ogg: 'audio/ogg',
  flac: 'audio/flac',
  mp4: 'video/mp4',
  mov: 'video/mov',
  webm: 'video/webm',
}

function guessMime(name: string | undefined): string | undefined {
  if (!name) return undefined
  const path = name.split(/[?#]/)[0]
  const dot = path.lastIndexOf('.')
  if (dot === -1 || dot < path.lastIndexOf('/')) return undefined
  return MIME_BY_EXTENSION[path.slice(dot + 1).toLowerCase()]
}

function assistantParts(m: ChatMessage): GeminiPart[] {
  const parts: GeminiPart[] = []
  // Thought text is not needed back, but a signed thought part is returned as received. Signatures
  // of other providers (Anthropic's, OpenAI's) mean nothing to Gemini and would be rejected.
  let textSignature: string | undefined
  for (const d of (m.reasoning_details ?? []) as FormattedReasoningDetail[]) {
    if (d.format !== GEMINI_REASONING_FORMAT) continue
    if (d.type === 'reasoning.text' && d.signature) {
      parts.push({ text: d.text ?? '', thought: true, thoughtSignature: d.signature })
    } else if (d.type === 'reasoning.encrypted' && d.data) {
      textSignature = d.data
    }
  }
  const texts =
    typeof m.content === 'string'
      ? [m.content]
      : Array.isArray(m.content)
        ? m.content.map((p) => p.text ?? '')
        : []
  let lastText: GeminiPart | undefined
  for (const text of texts) {
    if (!text) continue
    lastText = { text }
    parts.push(lastText)
  }
  // Gemini signs the last text part of an answer without function calls.
  if (textSignature && lastText) lastText.thoughtSignature = textSignature
  for (const tc of m.tool_calls ?? []) {
    const part: GeminiPart = {
      functionCall: { name: tc.function.name, args: parseArguments(tc.function.arguments) },
    }
    const signature = toolCallSignature(tc)
    if (signature) part.thoughtSignature = signature
    parts.push(part)
  }
  return parts
}

/** Gemini's signature rides in `extra_content.google.thought_signature`, as in Google's OpenAI-compatible API. */
export function toolCallSignature(tc: Pick<ToolCall, 'extra_content'>): string | undefined {
  const google = tc.extra_content?.google
  if (!isRecord(google)) return undefined
  return typeof google.thought_signature === 'string' ? google.thought_signature : undefined
}

/**
 * Arguments as an object. Models sometimes emit broken JSON that the client echoes back; failing the
 * whole conversation on it would help no one, so it becomes an empty call.
 */
function parseArguments(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text)
    return isRecord(value) ? value : {}
  } catch {
    return {}
  }
}

/**
 * A tool result as a functionResponse. `response` must be an object: a JSON object result is sent as
 * it is (the model reads its fields), anything else is wrapped as `{ result }`.
 */
function functionResponsePart(m: ChatMessage, callNames: Map<string, string>): GeminiPart {
  const name = (m.tool_call_id && callNames.get(m.tool_call_id)) || m.name || 'function'
  const text = textOf(m.content)
  let response: Record<string, unknown> = { result: text }
  try {
    const value: unknown = JSON.parse(text)
    response = isRecord(value) ? value : { result: value }
  } catch {
    // plain text
  }
  return { functionResponse: { name, response } }
}

function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .map((p) => p.text ?? '')
    .filter(Boolean)
    .join('\n')
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
