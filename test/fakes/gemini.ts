import { fakeVector } from './openai.js'
import { sampleOf } from './json-schema-sample.js'
import { countTokens, FakeServer, pieces, SseWriter, type FakeContext } from './server.js'
import { serveGeminiFiles } from './gemini-files.js'

/**
 * A fake Gemini API (Google AI Studio, generativelanguage v1beta) that speaks the published wire
 * format: generateContent, streamGenerateContent?alt=sse (`data:` frames, no [DONE], finishReason
 * and final usageMetadata on the last frame), embedContent, batchEmbedContents, countTokens, models
 * (paged) and the Files API (gemini-files.ts).
 * Like the real API it rejects unknown fields, empty parts and wrong roles with 400 INVALID_ARGUMENT,
 * so a translation that leaks an OpenAI field fails here.
 *
 * Replies are derived from the request: the answer to "hi" is "Echo: hi", streamed word by word.
 * Speech and images: TTS models answer PCM (24 kHz) to `responseModalities: ["AUDIO"]`, image
 * models PNGs to `["IMAGE"]`, Imagen `:predict` PNG predictions (see generateMedia, predictImages).
 * Triggers: function declarations with a last turn from the user → two parallel functionCall parts,
 * the first signed with a thoughtSignature; thinkingConfig.includeThoughts → a signed thought part
 * first; a prompt containing "cached" reports cachedContentTokenCount; maxOutputTokens smaller than
 * the answer cuts it with MAX_TOKENS; responseMimeType application/json answers JSON text, fitting
 * responseJsonSchema or responseSchema when given (either needs that MIME type). The key `bad-key`
 * answers 400 API_KEY_INVALID. Signatures the
 * fake did not issue are "corrupted" (400) except Google's stand-in `skip_thought_signature_validator`,
 * and gemini-3 models require a signature on the first functionCall of the current turn, as the
 * real ones do.
 */
export async function startFakeGemini(port = 0): Promise<FakeServer> {
  return new FakeServer(handle).start(port)
}

const MODELS = [
  { name: 'gemini-2.5-flash', methods: ['generateContent', 'countTokens', 'createCachedContent'] },
  { name: 'gemini-2.5-pro', methods: ['generateContent', 'countTokens', 'createCachedContent'] },
  { name: 'gemini-3-pro-preview', methods: ['generateContent', 'countTokens'] },
  { name: 'gemini-2.0-flash-lite', methods: ['generateContent', 'countTokens'] },
  { name: 'gemini-embedding-001', methods: ['embedContent', 'countTextTokens'] },
  { name: 'gemini-2.5-flash-preview-tts', methods: ['generateContent', 'countTokens'] },
  { name: 'gemini-2.5-flash-image', methods: ['generateContent', 'countTokens'] },
  { name: 'imagen-4.0-generate-001', methods: ['predict'] },
]
/** The real API pages by up to 1000; the fake by 3 so that paging is exercised. */
const MAX_PAGE = 3

const REQUEST_FIELDS = new Set([
  'contents',
  'systemInstruction',
  'tools',
  'toolConfig',
  'safetySettings',
  'generationConfig',
  'cachedContent',
  'labels',
])
const GENERATION_FIELDS = new Set([
  'stopSequences',
  'responseMimeType',
  'responseSchema',
  'responseJsonSchema',
  'responseModalities',
  'candidateCount',
  'maxOutputTokens',
  'temperature',
  'topP',
  'topK',
  'seed',
  'presencePenalty',
  'frequencyPenalty',
  'responseLogprobs',
  'logprobs',
  'enableEnhancedCivicAnswers',
  'speechConfig',
  'thinkingConfig',
  'imageConfig',
  'mediaResolution',
])
const PART_DATA = [
  'text',
  'inlineData',
  'fileData',
  'functionCall',
  'functionResponse',
  'executableCode',
  'codeExecutionResult',
]

let seq = 0
const responseId = () => `fake${Date.now().toString(36)}${(++seq).toString(36)}`
const sign = () => Buffer.from(`fake-sig:${++seq}`).toString('base64')
const signedByUs = (sig: string) => Buffer.from(sig, 'base64').toString('utf8').startsWith('fake-sig:')

class GeminiApiError extends Error {
  constructor(
    readonly code: number,
    readonly status: string,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message)
  }
}

function json(res: FakeContext['res'], status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' })
  res.end(JSON.stringify(value))
}

function sendError(res: FakeContext['res'], e: GeminiApiError): void {
  json(res, e.code, {
    error: { code: e.code, message: e.message, status: e.status, ...(e.details && { details: e.details }) },
  })
}

const invalid = (message: string) => new GeminiApiError(400, 'INVALID_ARGUMENT', message)

function handle(ctx: FakeContext): void {
  try {
    route(ctx)
  } catch (err) {
    if (err instanceof GeminiApiError) return sendError(ctx.res, err)
    throw err
  }
}

function route(ctx: FakeContext): void {
  const { req, res, path } = ctx
  const key = req.headers['x-goog-api-key']
  if (key === undefined) {
    throw new GeminiApiError(
      403,
      'PERMISSION_DENIED',
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    )
  }
  if (key === 'bad-key') {
    throw new GeminiApiError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'API_KEY_INVALID',
        domain: 'googleapis.com',
        metadata: { service: 'generativelanguage.googleapis.com' },
      },
    ])
  }
  const url = new URL(path, 'http://fake')
  if (req.method === 'GET' && url.pathname === '/v1beta/models') return listModels(ctx, url)
  if (serveGeminiFiles(ctx, url)) return
  const m = /^\/v1beta\/models\/([^/:]+):(\w+)$/.exec(url.pathname)
  if (req.method !== 'POST' || !m)
    throw new GeminiApiError(404, 'NOT_FOUND', `Method not found: ${req.method} ${url.pathname}`)
  const [, model, method] = m
  if (!MODELS.some((x) => x.name === model)) {
    throw new GeminiApiError(
      404,
      'NOT_FOUND',
      `models/${model} is not found for API version v1beta, or is not supported for ${method}.`,
    )
  }
  if (!ctx.body || typeof ctx.body !== 'object') throw invalid('Invalid JSON payload received.')
  const modalities: string[] = ctx.body.generationConfig?.responseModalities ?? []
  if (method === 'generateContent' && (model.includes('-tts') || model.includes('-image')))
    return generateMedia(ctx, model, modalities)
  if (modalities.some((m) => m !== 'TEXT'))
    throw invalid(
      `The requested combination of response modalities (${modalities.join(', ')}) is not supported by the model.`,
    )
  switch (method) {
    case 'predict':
      return predictImages(ctx, model)
    case 'generateContent':
      return generate(ctx, model, false)
    case 'streamGenerateContent':
      if (url.searchParams.get('alt') !== 'sse') throw invalid('the fake serves streams only with alt=sse')
      return generate(ctx, model, true)
    case 'embedContent':
      return json(res, 200, { embedding: embed(ctx.body, model) })
    case 'countTokens': {
      const request = ctx.body.generateContentRequest ?? ctx.body
      if (!Array.isArray(request.contents)) throw invalid('contents is not specified')
      const text = [
        textOfParts(request.systemInstruction?.parts),
        ...request.contents.map((c: any) => textOfParts(c.parts)),
      ].join('\n')
      return json(res, 200, { totalTokens: countTokens(text) })
    }
    case 'batchEmbedContents': {
      const requests = ctx.body.requests
      if (!Array.isArray(requests) || !requests.length)
        throw invalid('* BatchEmbedContentsRequest.requests: contents is not specified')
      for (const r of requests) {
        if (r.model !== `models/${model}`)
          throw invalid(`Model names in batch requests must match the model in the URL: models/${model}`)
      }
      return json(res, 200, { embeddings: requests.map((r: any) => embed(r, model)) })
    }
    default:
      throw new GeminiApiError(404, 'NOT_FOUND', `Method not found: ${method}`)
  }
}

function listModels({ res }: FakeContext, url: URL): void {
  const size = Math.min(Number(url.searchParams.get('pageSize') ?? 50) || 50, MAX_PAGE)
  const start = Number(url.searchParams.get('pageToken') ?? 0)
  const page = MODELS.slice(start, start + size)
  json(res, 200, {
    models: page.map((m) => ({
      name: `models/${m.name}`,
      version: '001',
      displayName: m.name.replace(/-/g, ' '),
      description: `Fake ${m.name}`,
      inputTokenLimit: m.name.includes('embedding') ? 2048 : 1048576,
      outputTokenLimit: m.name.includes('embedding') ? 1 : 65536,
      supportedGenerationMethods: m.methods,
    })),
    ...(start + size < MODELS.length && { nextPageToken: String(start + size) }),
  })
}

function embed(r: any, model: string): { values: number[] } {
  if (!model.includes('embedding')) throw invalid(`models/${model} does not support embeddings`)
  const text = (r?.content?.parts ?? []).map((p: any) => p.text ?? '').join('')
  if (!text) throw invalid('* EmbedContentRequest.content: contents is not specified')
  return { values: fakeVector(text, r.outputDimensionality ?? 8) }
}

interface Plan {
  thought?: { text: string; signature: string }
  text: string
  calls: { name: string; args: Record<string, unknown>; signature?: string }[]
  finishReason: 'STOP' | 'MAX_TOKENS'
  usage: Record<string, number>
}

function validate(body: any, model: string): void {
  for (const k of Object.keys(body)) {
    if (!REQUEST_FIELDS.has(k))
      throw invalid(`Invalid JSON payload received. Unknown name "${k}": Cannot find field.`)
  }
  for (const k of Object.keys(body.generationConfig ?? {})) {
    if (!GENERATION_FIELDS.has(k))
      throw invalid(
        `Invalid JSON payload received. Unknown name "${k}" at 'generation_config': Cannot find field.`,
      )
  }
  const contents = body.contents
  if (!Array.isArray(contents) || !contents.length)
    throw invalid('* GenerateContentRequest.contents: contents is not specified')
  contents.forEach((c: any, i: number) => {
    if (c.role !== 'user' && c.role !== 'model')
      throw invalid(`Please use a valid role: user, model. (contents[${i}].role = ${c.role})`)
    if (!Array.isArray(c.parts) || !c.parts.length)
      throw invalid(`* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`)
    for (const p of c.parts) {
      if (PART_DATA.filter((k) => p[k] !== undefined).length !== 1)
        throw invalid(
          `* GenerateContentRequest.contents[${i}].parts: a part must hold exactly one kind of data`,
        )
      // Google's documented stand-in for a lost signature passes the check, as on the real API.
      if (
        p.thoughtSignature !== undefined &&
        p.thoughtSignature !== 'skip_thought_signature_validator' &&
        !signedByUs(p.thoughtSignature)
      )
        throw invalid('Corrupted thought signature.')
      if (
        p.functionCall &&
        (typeof p.functionCall.name !== 'string' || typeof p.functionCall.args !== 'object')
      )
        throw invalid('functionCall needs a name and args')
      if (
        p.functionResponse &&
        (typeof p.functionResponse.name !== 'string' || typeof p.functionResponse.response !== 'object')
      )
        throw invalid('functionResponse needs a name and a response object')
    }
  })
  for (const t of body.tools ?? []) {
    for (const d of t.functionDeclarations ?? []) {
      if (d.parameters && d.parametersJsonSchema)
        throw invalid('parameters and parametersJsonSchema are mutually exclusive')
    }
  }
  if (model.startsWith('gemini-3')) {
    // The current turn starts at the last user content that is not only function results.
    let start = 0
    contents.forEach((c: any, i: number) => {
      if (c.role === 'user' && c.parts.some((p: any) => !p.functionResponse)) start = i
    })
    for (const c of contents.slice(start)) {
      const firstCall = c.role === 'model' ? c.parts.find((p: any) => p.functionCall) : undefined
      if (firstCall && !firstCall.thoughtSignature) {
        throw invalid(
          `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${firstCall.functionCall.name}\` , position 1. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
        )
      }
    }
  }
}

function textOfParts(parts: any[] | undefined): string {
  return (parts ?? [])
    .filter((p) => typeof p.text === 'string' && !p.thought)
    .map((p) => p.text)
    .join('')
}

function plan(body: any, model: string): Plan {
  validate(body, model)
  const contents: any[] = body.contents
  const last = contents[contents.length - 1]
  const promptText = [
    textOfParts(body.systemInstruction?.parts),
    ...contents.map((c) => textOfParts(c.parts)),
  ].join('\n')
  const declarations: any[] = (body.tools ?? []).flatMap((t: any) => t.functionDeclarations ?? [])
  const results = last.role === 'user' ? last.parts.filter((p: any) => p.functionResponse) : []
  const lastText = textOfParts(last.parts)
  let text = ''
  let calls: Plan['calls'] = []
  if (declarations.length && last.role === 'user' && !results.length) {
    calls = declarations.slice(0, 2).map((d: any, i: number) => ({
      name: d.name,
      args: { city: i === 0 ? 'Paris' : 'Tokyo', unit: 'celsius' },
      ...(i === 0 && { signature: sign() }),
    }))
  } else if (results.length) {
    text = `Tool said: ${results.map((p: any) => `${p.functionResponse.name}=${JSON.stringify(p.functionResponse.response)}`).join(' | ')}`
  } else {
    text = `Echo: ${lastText}`
  }
  const gc = body.generationConfig ?? {}
  const schema = gc.responseJsonSchema ?? gc.responseSchema
  if (gc.responseJsonSchema && gc.responseSchema)
    throw invalid('responseSchema and responseJsonSchema cannot both be set')
  if (schema && gc.responseMimeType !== 'application/json')
    throw invalid('responseSchema needs responseMimeType "application/json"')
  if (gc.responseMimeType === 'application/json' && !calls.length)
    text = JSON.stringify(schema ? sampleOf(schema, text) : { answer: text })
  const thought = gc.thinkingConfig?.includeThoughts
    ? { text: `**Thinking**\nThe user wrote: ${lastText}`, signature: sign() }
    : undefined
  let finishReason: Plan['finishReason'] = 'STOP'
  if (typeof gc.maxOutputTokens === 'number' && text && countTokens(text) > gc.maxOutputTokens) {
    text = text.slice(0, gc.maxOutputTokens * 4)
    finishReason = 'MAX_TOKENS'
  }
  const prompt = countTokens(promptText)
  const candidates = countTokens(text + calls.map((c) => c.name + JSON.stringify(c.args)).join(''))
  const thoughts = thought ? countTokens(thought.text) : 0
  const usage: Record<string, number> = {
    promptTokenCount: prompt,
    candidatesTokenCount: candidates,
    totalTokenCount: prompt + candidates + thoughts,
  }
  if (thought) usage.thoughtsTokenCount = thoughts
  if (promptText.includes('cached')) usage.cachedContentTokenCount = Math.min(8, prompt)
  return { thought, text, calls, finishReason, usage }
}

function generate({ res, body, streamFault, report }: FakeContext, model: string, stream: boolean): void {
  const p = plan(body, model)
  report({
    text: p.text,
    thinking: p.thought?.text ?? '',
    toolCalls: p.calls.map((c) => ({ name: c.name, args: c.args })),
    usage: {
      input: p.usage.promptTokenCount,
      output: p.usage.candidatesTokenCount + (p.usage.thoughtsTokenCount ?? 0),
    },
  })
  const id = responseId()
  const thoughtPart = p.thought && {
    text: p.thought.text,
    thought: true,
    thoughtSignature: p.thought.signature,
  }
  const callParts = p.calls.map((c) => ({
    functionCall: { name: c.name, args: c.args },
    ...(c.signature && { thoughtSignature: c.signature }),
  }))
  const frame = (parts: any[], last: boolean) => ({
    candidates: [
      { content: { parts, role: 'model' }, ...(last && { finishReason: p.finishReason }), index: 0 },
    ],
    usageMetadata: last
      ? p.usage
      : { promptTokenCount: p.usage.promptTokenCount, totalTokenCount: p.usage.promptTokenCount },
    modelVersion: model,
    responseId: id,
  })
  if (!stream) {
    const parts = [...(thoughtPart ? [thoughtPart] : []), ...(p.text ? [{ text: p.text }] : []), ...callParts]
    return json(res, 200, frame(parts, true))
  }
  const frames: any[][] = []
  if (thoughtPart) frames.push([thoughtPart])
  for (const piece of p.text ? pieces(p.text) : []) frames.push([{ text: piece }])
  for (const part of callParts) frames.push([part])
  const sse = new SseWriter(res, streamFault)
  for (let i = 0; i < frames.length; i++) {
    if (!sse.send(JSON.stringify(frame(frames[i], i === frames.length - 1)))) return
  }
  sse.end()
}

/** Prebuilt voices of the TTS models. */
const VOICES = new Set(['Zephyr', 'Puck', 'Charon', 'Kore', 'Fenrir', 'Leda', 'Orus', 'Aoede'])
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** A fake PNG: the real signature, then the text it depicts. */
export function fakePng(text: string): Buffer {
  return Buffer.concat([PNG_SIGNATURE, Buffer.from(text, 'utf8')])
}

/** The fake's speech: 16-bit PCM, one sample per character of the text (its char code). */
export function fakePcm(text: string): Buffer {
  const pcm = Buffer.alloc(text.length * 2)
  for (let i = 0; i < text.length; i++) pcm.writeInt16LE(text.charCodeAt(i), i * 2)
  return pcm
}

/**
 * TTS models (`responseModalities: ["AUDIO"]` and a prebuilt voice) answer one inlineData part of
 * PCM at 24 kHz; image models (`["IMAGE"]`, or with TEXT) a PNG per candidate, depicting the prompt
 * and the size of each image sent.
 */
function generateMedia({ res, body }: FakeContext, model: string, modalities: string[]): void {
  validate(body, model)
  const gc = body.generationConfig ?? {}
  const parts: any[] = body.contents.flatMap((c: any) => c.parts)
  const prompt = textOfParts(parts)
  const usage = { promptTokenCount: countTokens(prompt), candidatesTokenCount: 0, totalTokenCount: 0 }
  let answer: any[]
  if (model.includes('-tts')) {
    if (modalities.length !== 1 || modalities[0] !== 'AUDIO')
      throw invalid('The requested combination of response modalities is not supported by the model.')
    const voice = gc.speechConfig?.voiceConfig?.prebuiltVoiceConfig?.voiceName
    if (voice !== undefined && !VOICES.has(voice)) throw invalid(`Voice name ${voice} is not supported.`)
    answer = [
      {
        content: {
          role: 'model',
          parts: [
            {
              inlineData: {
                mimeType: 'audio/L16;codec=pcm;rate=24000',
                data: fakePcm(prompt).toString('base64'),
              },
            },
          ],
        },
        finishReason: 'STOP',
        index: 0,
      },
    ]
  } else {
    if (!modalities.includes('IMAGE'))
      throw invalid('The requested combination of response modalities is not supported by the model.')
    const sent = parts.filter((p) => p.inlineData).map((p) => Buffer.from(p.inlineData.data, 'base64').length)
    const depicts = sent.length ? `${prompt} [edited ${sent.join('+')} bytes]` : prompt
    const count = gc.candidateCount ?? 1
    answer = Array.from({ length: count }, (_, index) => ({
      content: {
        role: 'model',
        parts: [
          ...(modalities.includes('TEXT') ? [{ text: 'Here you are.' }] : []),
          { inlineData: { mimeType: 'image/png', data: fakePng(`${depicts} #${index}`).toString('base64') } },
        ],
      },
      finishReason: 'STOP',
      index,
    }))
  }
  usage.candidatesTokenCount = 1290 * answer.length
  usage.totalTokenCount = usage.promptTokenCount + usage.candidatesTokenCount
  json(res, 200, { candidates: answer, usageMetadata: usage, modelVersion: model, responseId: responseId() })
}

/** Imagen's `predict`: one PNG per sample, depicting the prompt. */
function predictImages({ res, body }: FakeContext, model: string): void {
  const prompt = body.instances?.[0]?.prompt
  if (typeof prompt !== 'string' || !prompt) throw invalid('instances[0].prompt is required')
  const count = body.parameters?.sampleCount ?? 4
  if (!Number.isInteger(count) || count < 1 || count > 4) throw invalid('sampleCount must be between 1 and 4')
  const ratio = body.parameters?.aspectRatio ?? '1:1'
  if (!['1:1', '3:4', '4:3', '9:16', '16:9'].includes(ratio))
    throw invalid(`aspectRatio ${ratio} is not supported`)
  json(res, 200, {
    predictions: Array.from({ length: count }, (_, i) => ({
      bytesBase64Encoded: fakePng(`${prompt} ${ratio} #${i} by ${model}`).toString('base64'),
      mimeType: 'image/png',
    })),
  })
}
