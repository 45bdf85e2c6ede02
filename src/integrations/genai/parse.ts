import { GatewayError } from '../../core/errors.js'
import { signatureFromRoute } from '../signature-origin.js'
import { openApiSchemaToJsonSchema } from './response-schema.js'
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  EmbeddingRequest,
  ReasoningDetail,
  Tool,
  ToolCall,
} from '../../core/schemas/index.js'

/** Tags reasoning with Gemini's signatures, as the Gemini adapter does, so they go back only to Gemini. */
export const GEMINI_REASONING_FORMAT = 'google-gemini-v1'

export interface GenAIPart {
  text?: string
  thought?: boolean
  thoughtSignature?: string
  inlineData?: { mimeType?: string; data?: string }
  fileData?: { mimeType?: string; fileUri?: string }
  functionCall?: { id?: string; name?: string; args?: Record<string, unknown> }
  functionResponse?: { id?: string; name?: string; response?: unknown }
  [k: string]: unknown
}

export interface GenAIContent {
  role?: string
  parts?: GenAIPart[]
}

/** The body of generateContent / streamGenerateContent (the model is in the path). */
export interface GenerateContentBody {
  contents: GenAIContent[]
  systemInstruction?: GenAIContent | string
  tools?: Record<string, unknown>[]
  toolConfig?: { functionCallingConfig?: { mode?: string; allowedFunctionNames?: string[] } }
  generationConfig?: Record<string, unknown>
  safetySettings?: unknown
  cachedContent?: unknown
  labels?: unknown
  [k: string]: unknown
}

/** Gemini request fields that only a Gemini target reads; they ride on the unified request unchanged. */
export const GEMINI_ONLY_FIELDS = [
  'generationConfig',
  'safetySettings',
  'cachedContent',
  'labels',
  'toolConfig',
]

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', message, { param })
}

export function validateGenerateContentBody(body: unknown): GenerateContentBody {
  if (!isObject(body)) throw invalid('the body must be a JSON object')
  if (!Array.isArray(body.contents) || body.contents.length === 0)
    throw invalid('contents is not specified', 'contents')
  body.contents.forEach((c: unknown, i) => {
    if (!isObject(c) || !Array.isArray(c.parts) || c.parts.length === 0)
      throw invalid(`contents[${i}].parts: must contain at least one part`, `contents[${i}].parts`)
    if (c.role !== undefined && c.role !== 'user' && c.role !== 'model' && c.role !== 'function')
      throw invalid(`contents[${i}].role: please use a valid role: user, model`, `contents[${i}].role`)
  })
  if (body.generationConfig !== undefined && !isObject(body.generationConfig))
    throw invalid('generationConfig must be an object', 'generationConfig')
  if (body.tools !== undefined && !Array.isArray(body.tools)) throw invalid('tools must be a list', 'tools')
  return body as GenerateContentBody
}

/**
 * A GenAI generateContent request as the unified chat request. Thought signatures (on thought,
 * text and functionCall parts) are kept where the Gemini adapter looks for them. With
 * `geminiNative`, Gemini's own settings go along as sent.
 */
export function genaiToChat(body: GenerateContentBody, model: string, geminiNative: boolean): ChatRequest {
  const messages: ChatMessage[] = []
  const system = systemText(body.systemInstruction)
  if (system) messages.push({ role: 'system', content: system })
  const calls = { next: 0, open: [] as { id: string; name: string }[] }
  body.contents.forEach((c, i) => {
    if (c.role === 'model') messages.push(modelMessage(c.parts ?? [], i, calls))
    else messages.push(...userMessages(c.parts ?? [], i, calls))
  })

  const req: ChatRequest = { model, messages }
  const gc = body.generationConfig ?? {}
  const num = (k: string) => (typeof gc[k] === 'number' ? (gc[k] as number) : undefined)
  if (num('temperature') !== undefined) req.temperature = num('temperature')
  if (num('topP') !== undefined) req.top_p = num('topP')
  if (num('maxOutputTokens') !== undefined) req.max_tokens = num('maxOutputTokens')
  if (num('candidateCount') !== undefined) req.n = num('candidateCount')
  if (num('seed') !== undefined) req.seed = num('seed')
  if (num('presencePenalty') !== undefined) req.presence_penalty = num('presencePenalty')
  if (num('frequencyPenalty') !== undefined) req.frequency_penalty = num('frequencyPenalty')
  if (Array.isArray(gc.stopSequences) && gc.stopSequences.length) req.stop = gc.stopSequences as string[]
  const schema = isObject(gc.responseJsonSchema)
    ? gc.responseJsonSchema
    : isObject(gc.responseSchema)
      ? openApiSchemaToJsonSchema(gc.responseSchema)
      : undefined
  if (schema) req.response_format = { type: 'json_schema', json_schema: { name: 'response', schema } }
  else if (gc.responseMimeType === 'application/json') req.response_format = { type: 'json_object' }

  const tools = (body.tools ?? []).flatMap(toTools)
  if (tools.length) {
    req.tools = tools
    const choice = toToolChoice(body.toolConfig)
    if (choice !== undefined) req.tool_choice = choice
  }
  const native = req as Record<string, unknown>
  if (geminiNative) {
    for (const k of GEMINI_ONLY_FIELDS) if (body[k] !== undefined) native[k] = body[k]
  } else {
    if (num('topK') !== undefined) native.top_k = num('topK')
    const effort = genaiThinkingToEffort(gc.thinkingConfig)
    if (effort) req.reasoning_effort = effort
  }
  return req
}

/** Gemini's thinking budget as OpenAI's reasoning effort, for other targets. */
export function genaiThinkingToEffort(config: unknown): string | undefined {
  if (!isObject(config)) return undefined
  const budget = typeof config.thinkingBudget === 'number' ? config.thinkingBudget : undefined
  if (budget === 0) return 'none'
  if (typeof config.thinkingLevel === 'string') return config.thinkingLevel.toLowerCase()
  if (budget === undefined || budget < 0) return config.includeThoughts === true ? 'medium' : undefined
  return budget >= 16384 ? 'high' : budget >= 4096 ? 'medium' : 'low'
}

function systemText(s: GenerateContentBody['systemInstruction']): string | undefined {
  if (typeof s === 'string') return s || undefined
  const text = (s?.parts ?? [])
    .map((p) => p.text ?? '')
    .filter(Boolean)
    .join('\n')
  return text || undefined
}

function mediaPart(p: GenAIPart, where: string): ContentPart {
  if (p.inlineData) {
    const mime = p.inlineData.mimeType ?? 'application/octet-stream'
    const data = p.inlineData.data ?? ''
    if (mime.startsWith('image/'))
      return { type: 'image_url', image_url: { url: `data:${mime};base64,${data}` } }
    if (mime.startsWith('audio/'))
      return { type: 'input_audio', input_audio: { data, format: mime.slice('audio/'.length) } }
    return { type: 'file', file: { file_data: `data:${mime};base64,${data}` } }
  }
  const uri = p.fileData?.fileUri
  if (!uri) throw invalid(`${where}: fileData.fileUri is required`, where)
  if ((p.fileData?.mimeType ?? '').startsWith('image/') || /^https?:/i.test(uri))
    return { type: 'image_url', image_url: { url: uri } }
  return { type: 'file', file: { file_id: uri } }
}

type CallBook = { next: number; open: { id: string; name: string }[] }

/** A user (or function) turn: function responses become tool messages, the rest one user message. */
function userMessages(parts: GenAIPart[], i: number, calls: CallBook): ChatMessage[] {
  const out: ChatMessage[] = []
  const content: ContentPart[] = []
  parts.forEach((p, j) => {
    const where = `contents[${i}].parts[${j}]`
    if (p.functionResponse) {
      const name = p.functionResponse.name ?? ''
      // Gemini matches results to calls by name (or id when given); so do we, in call order.
      const at = calls.open.findIndex((c) =>
        p.functionResponse?.id ? c.id === p.functionResponse.id : c.name === name,
      )
      const id = at >= 0 ? calls.open.splice(at, 1)[0].id : (p.functionResponse.id ?? `call_${name}`)
      const response = p.functionResponse.response
      out.push({
        role: 'tool',
        tool_call_id: id,
        name,
        content: typeof response === 'string' ? response : JSON.stringify(response ?? {}),
      })
    } else if (typeof p.text === 'string') content.push({ type: 'text', text: p.text })
    else if (p.inlineData || p.fileData) content.push(mediaPart(p, where))
  })
  if (content.length) {
    const plain = content.every((c) => c.type === 'text')
    out.push({ role: 'user', content: plain ? content.map((c) => c.text).join('') : content })
  }
  return out
}

function modelMessage(parts: GenAIPart[], i: number, calls: CallBook): ChatMessage {
  const details: ReasoningDetail[] = []
  const texts: string[] = []
  const toolCalls: ToolCall[] = []
  calls.open = []
  parts.forEach((p) => {
    if (p.functionCall) {
      const name = p.functionCall.name ?? ''
      const id = p.functionCall.id ?? `call_${i}_${calls.next++}`
      calls.open.push({ id, name })
      const call: ToolCall = {
        id,
        type: 'function',
        function: { name, arguments: JSON.stringify(p.functionCall.args ?? {}) },
      }
      if (p.thoughtSignature) call.extra_content = { google: { thought_signature: p.thoughtSignature } }
      toolCalls.push(call)
    } else if (p.thought) {
      const d: ReasoningDetail = { type: 'reasoning.text', index: details.length, text: p.text ?? '' }
      let format = GEMINI_REASONING_FORMAT
      if (p.thoughtSignature) {
        const signed = signatureFromRoute(p.thoughtSignature, GEMINI_REASONING_FORMAT)
        d.signature = signed.signature
        format = signed.format
      }
      details.push({ ...d, format })
    } else if (typeof p.text === 'string') {
      texts.push(p.text)
      // Gemini signs the last text part of an answer without calls; the adapter puts it back there.
      if (p.thoughtSignature)
        details.push({
          type: 'reasoning.encrypted',
          index: details.length,
          data: p.thoughtSignature,
          format: GEMINI_REASONING_FORMAT,
        })
    }
  })
  const msg: ChatMessage = { role: 'assistant', content: texts.join('') || null }
  if (details.length) msg.reasoning_details = details
  if (toolCalls.length) msg.tool_calls = toolCalls
  return msg
}

function toTools(t: Record<string, unknown>): Tool[] {
  const decls = Array.isArray(t.functionDeclarations)
    ? (t.functionDeclarations as Record<string, unknown>[])
    : []
  const out: Tool[] = decls.map((d, k) => {
    if (typeof d.name !== 'string') throw invalid(`tools.functionDeclarations[${k}].name is required`)
    const fn: NonNullable<Tool['function']> = { name: d.name }
    if (typeof d.description === 'string') fn.description = d.description
    const params = d.parametersJsonSchema ?? d.parameters
    if (isObject(params)) fn.parameters = lowerTypes(params) as Record<string, unknown>
    return { type: 'function', function: fn }
  })
  // Google's own tools (googleSearch, codeExecution ...) go as they are; only Gemini reads them.
  const { functionDeclarations: _decls, ...rest } = t
  for (const [k, v] of Object.entries(rest)) out.push({ type: k, [k]: v })
  return out
}

/** Gemini's OpenAPI schemas spell types in capitals (`OBJECT`); JSON Schema wants them lower-case. */
function lowerTypes(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(lowerTypes)
  if (!isObject(v)) return v
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v))
    out[k] = k === 'type' && typeof x === 'string' ? x.toLowerCase() : lowerTypes(x)
  return out
}

function toToolChoice(config: GenerateContentBody['toolConfig']): unknown {
  const fc = config?.functionCallingConfig
  switch (fc?.mode) {
    case 'AUTO':
      return 'auto'
    case 'NONE':
      return 'none'
    case 'ANY':
    case 'VALIDATED':
      return fc.allowedFunctionNames?.length === 1
        ? { type: 'function', function: { name: fc.allowedFunctionNames[0] } }
        : 'required'
  }
  return undefined
}

/** embedContent / batchEmbedContents as a unified embedding request: the texts of each content. */
export function genaiToEmbedding(body: unknown, model: string): EmbeddingRequest {
  if (!isObject(body)) throw invalid('the body must be a JSON object')
  const requests = Array.isArray(body.requests) ? body.requests : [body]
  if (!requests.length) throw invalid('requests must not be empty', 'requests')
  const input = requests.map((r: unknown, i) => {
    const content = isObject(r) && isObject(r.content) ? r.content : undefined
    const parts = Array.isArray(content?.parts) ? (content.parts as GenAIPart[]) : undefined
    if (!parts?.length) throw invalid(`requests[${i}].content.parts: at least one text part is required`)
    return parts.map((p) => p.text ?? '').join(' ')
  })
  const req: EmbeddingRequest = { model, input }
  const first = requests[0] as Record<string, unknown>
  if (typeof first.outputDimensionality === 'number') req.dimensions = first.outputDimensionality
  return req
}
