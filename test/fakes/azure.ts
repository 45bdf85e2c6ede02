import { randomBytes } from 'node:crypto'
import { startFakeOpenAI } from './openai.js'
import { countTokens, FakeServer, SseWriter, type FakeContext } from './server.js'

/**
 * A fake Azure OpenAI resource and a fake Microsoft Entra ID token endpoint, checking requests the
 * way Azure does:
 *
 * - paths are `/openai/deployments/{deployment}/{operation}?api-version=...`; a missing or unknown
 *   api-version answers 404 "Resource not found", an unknown deployment 404 DeploymentNotFound;
 * - auth is the `api-key` header, or `Authorization: Bearer` with a token the fake Entra ID
 *   issued (client-credentials grant, scope https://cognitiveservices.azure.com/.default);
 *   anything else answers 401 in Azure's shape;
 * - bodies are OpenAI's wire format: chat, completions and embeddings are served by a fake
 *   OpenAI behind it (the deployment's model in the body), images and audio by `openAIMedia`;
 *   image edits need api-version 2025-04-01-preview or later, and there are no image variations.
 */

export const AZURE_API_VERSIONS = ['2024-10-21', '2024-06-01', '2025-01-01-preview', '2025-04-01-preview']

export interface FakeAzureOptions {
  apiKey: string
  /** deployment name -> model it runs */
  deployments: Record<string, string>
  tenantId?: string
  clientId?: string
  clientSecret?: string
  /** Token lifetime in seconds (Entra ID's are about an hour). */
  tokenLifetime?: number
}

export interface FakeAzure {
  /** The resource endpoint, as `azure_key_config.endpoint`. */
  url: string
  resource: FakeServer
  /** The authority host, as `azure_key_config.authority_host`. */
  entraUrl: string
  entra: FakeServer
  /** Tokens issued so far. */
  readonly tokensIssued: number
  close(): Promise<void>
}

export async function startFakeAzure(opts: FakeAzureOptions): Promise<FakeAzure> {
  const openai = await startFakeOpenAI()
  const issued = new Set<string>()
  let tokensIssued = 0

  const entra = await new FakeServer(({ res, path, body }) => {
    const m = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path)
    if (!m) return json(res, 404, { error: 'not_found' })
    const form = new URLSearchParams(typeof body === 'string' ? body : '')
    const fail = (status: number, error: string, description: string) =>
      json(res, status, {
        error,
        error_description: description,
        error_codes: [0],
        timestamp: new Date().toISOString(),
      })
    if (m[1] !== (opts.tenantId ?? 'tenant'))
      return fail(400, 'invalid_request', `AADSTS90002: Tenant '${m[1]}' not found.`)
    if (form.get('grant_type') !== 'client_credentials')
      return fail(400, 'unsupported_grant_type', 'AADSTS70003: The app requested an unsupported grant type.')
    if (form.get('client_id') !== (opts.clientId ?? 'client'))
      return fail(
        400,
        'unauthorized_client',
        `AADSTS700016: Application '${form.get('client_id')}' was not found.`,
      )
    if (form.get('client_secret') !== (opts.clientSecret ?? 'secret'))
      return fail(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.')
    if (form.get('scope') !== 'https://cognitiveservices.azure.com/.default')
      return fail(
        400,
        'invalid_scope',
        `AADSTS70011: The provided value for scope ${form.get('scope')} is not valid.`,
      )
    const token = `eyJ.fake.${randomBytes(8).toString('hex')}`
    issued.add(token)
    tokensIssued++
    const lifetime = opts.tokenLifetime ?? 3599
    json(res, 200, {
      token_type: 'Bearer',
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: token,
    })
  }).start()

  const resource = await new FakeServer(async (ctx) => {
    const { req, res, path } = ctx
    const url = new URL(path, 'http://azure')
    const m = /^\/openai\/deployments\/([^/]+)\/(.+)$/.exec(url.pathname)
    const version = url.searchParams.get('api-version')
    if (!m || !version || !AZURE_API_VERSIONS.includes(version)) {
      return json(res, 404, { error: { code: '404', message: 'Resource not found' } })
    }
    const key = req.headers['api-key']
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (!(key === opts.apiKey || (bearer !== undefined && issued.has(bearer)))) {
      return json(res, 401, {
        error: {
          code: '401',
          message:
            'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
        },
      })
    }
    const deployment = decodeURIComponent(m[1])
    const model = opts.deployments[deployment]
    if (!model) {
      return json(res, 404, {
        error: {
          code: 'DeploymentNotFound',
          message:
            'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.',
        },
      })
    }
    const operation = m[2]
    // Image edits came with the 2025-04-01-preview API; variations (DALL-E 2) never came to Azure.
    if ((operation === 'images/edits' && version < '2025-04-01') || operation === 'images/variations') {
      return json(res, 404, { error: { code: '404', message: 'Resource not found' } })
    }
    if (await openAIMedia(ctx, operation, model)) return
    await relay(ctx, `${openai.url}/v1/${operation}`, model, openai)
  }).start()

  return {
    url: resource.url,
    resource,
    entraUrl: entra.url,
    entra,
    get tokensIssued() {
      return tokensIssued
    },
    async close() {
      await Promise.all([resource.close(), entra.close(), openai.close()])
    },
  }
}

function json(res: FakeContext['res'], status: number, value: unknown): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-request-id': randomBytes(8).toString('hex'),
  })
  res.end(JSON.stringify(value))
}

/** Passes an OpenAI-format JSON request on to another fake, with the model set, and its answer back as it streams. */
export async function relay(
  ctx: FakeContext,
  url: string,
  model?: string,
  backend?: FakeServer,
): Promise<void> {
  const seen = backend?.answers.length ?? 0
  const body = ctx.body && typeof ctx.body === 'object' ? { ...ctx.body, ...(model && { model }) } : ctx.body
  const upstream = await fetch(url, {
    method: ctx.req.method,
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
    body: ctx.req.method === 'GET' ? undefined : JSON.stringify(body),
  })
  ctx.res.writeHead(upstream.status, {
    'content-type': upstream.headers.get('content-type') ?? 'application/json',
  })
  if (upstream.body) for await (const chunk of upstream.body) ctx.res.write(chunk)
  ctx.res.end()
  // The answer is the backend's; the resource reports it as its own, as Azure serves it.
  for (const a of backend?.answers.slice(seen) ?? []) ctx.report(a)
}

const AUDIO_TYPES: Record<string, string> = {
  mp3: 'audio/mpeg',
  opus: 'audio/opus',
  aac: 'audio/aac',
  flac: 'audio/flac',
  wav: 'audio/wav',
  pcm: 'audio/pcm',
}

/** The audio the fake "speaks": an MP3-like header, then the text, so a test can check what was said. */
export function fakeSpeech(input: string, voice: string): Buffer {
  return Buffer.concat([Buffer.from([0x49, 0x44, 0x33, 0x04, 0x00]), Buffer.from(`${voice}:${input}`)])
}

function badRequest(res: FakeContext['res'], message: string, param: string | null): void {
  json(res, 400, { error: { message, type: 'invalid_request_error', param, code: null } })
}

/** The image types OpenAI's image endpoints take, judged by each part's declared content type. */
const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp']

function unsupportedMimetype(res: FakeContext['res'], field: string, type: string, allowed: string[]): void {
  const supported = allowed.map((t) => `'${t}'`).join(', ')
  json(res, 400, {
    error: {
      message: `Invalid file '${field}': unsupported mimetype ('${type}'). Supported file formats are ${supported}.`,
      type: 'invalid_request_error',
      param: field,
      code: 'unsupported_file_mimetype',
    },
  })
}

const STREAM_UNSUPPORTED = (model: string) => `Streaming is not supported for model '${model}'.`

/** gpt-image usage: text tokens of the prompt in, image tokens (and input images) counted. */
function imageUsage(prompt: string, n: number, inputImages = 0) {
  const text = countTokens(prompt)
  const imageIn = 194 * inputImages
  return {
    input_tokens: text + imageIn,
    output_tokens: 272 * n,
    total_tokens: text + imageIn + 272 * n,
    input_tokens_details: { text_tokens: text, image_tokens: imageIn },
  }
}

/**
 * A streamed gpt-image answer, as OpenAI sends it: `partials` partial images
 * (`{kind}.partial_image`), then `{kind}.completed` with the image and the usage.
 */
function streamImage(
  ctx: FakeContext,
  kind: 'image_generation' | 'image_edit',
  picture: string,
  partials: number,
  params: { size?: string; quality?: string; background?: string; output_format?: string },
): void {
  const shape = {
    created_at: Math.floor(Date.now() / 1000),
    size: params.size ?? '1024x1024',
    quality: params.quality ?? 'medium',
    background: params.background ?? 'opaque',
    output_format: params.output_format ?? 'png',
  }
  const sse = new SseWriter(ctx.res, ctx.streamFault)
  for (let i = 0; i < partials; i++) {
    const event = {
      type: `${kind}.partial_image`,
      b64_json: Buffer.from(`${picture}:partial:${i}`).toString('base64'),
      partial_image_index: i,
      ...shape,
    }
    if (!sse.send(JSON.stringify(event), event.type)) return
  }
  const done = {
    type: `${kind}.completed`,
    b64_json: Buffer.from(picture).toString('base64'),
    ...shape,
    usage: imageUsage(picture, 1),
  }
  if (sse.send(JSON.stringify(done), done.type)) sse.end()
}

/**
 * The request's multipart form, or undefined once the fake has answered 400 (not multipart,
 * or broken). Non-ASCII bytes do not survive: the harness reads bodies as UTF-8.
 */
async function multipartForm(ctx: FakeContext): Promise<FormData | undefined> {
  const contentType = ctx.req.headers['content-type'] ?? ''
  if (!contentType.startsWith('multipart/form-data')) {
    badRequest(ctx.res, 'Invalid Content-Type header, expected multipart/form-data', null)
    return undefined
  }
  try {
    return await new Response(Buffer.from(String(ctx.body), 'utf8'), {
      headers: { 'content-type': contentType },
    }).formData()
  } catch {
    badRequest(ctx.res, 'Could not parse multipart form', null)
    return undefined
  }
}

/**
 * OpenAI's image (generations, edits, variations) and audio (speech, transcriptions) endpoints
 * (`operation` is the path after `/v1/`), in the published wire format, streamed ones included
 * (gpt-image partial images, gpt-4o-mini-tts `stream_format: sse`). Answers and returns true when
 * the operation is one of them. Multipart endpoints read the form: answers name what arrived (file
 * names, sizes, text), so tests can check the uploads came through (send UTF-8 text as file bytes).
 */
export async function openAIMedia(ctx: FakeContext, operation: string, model: string): Promise<boolean> {
  const { res, body } = ctx
  if (operation === 'images/generations') {
    if (typeof body?.prompt !== 'string' || !body.prompt)
      badRequest(res, "Missing required parameter: 'prompt'.", 'prompt')
    else if (body.stream === true) {
      if (!model.startsWith('gpt-image')) badRequest(res, STREAM_UNSUPPORTED(model), 'stream')
      else streamImage(ctx, 'image_generation', body.prompt, Number(body.partial_images ?? 0), body)
    } else {
      const n = body.n ?? 1
      const b64 = body.response_format === 'b64_json' || model.startsWith('gpt-image')
      const data = Array.from({ length: n }, (_, i) =>
        b64
          ? { b64_json: Buffer.from(`png:${body.prompt}:${i}`).toString('base64') }
          : {
              url: `https://images.fake/${encodeURIComponent(body.prompt)}/${i}.png`,
              revised_prompt: body.prompt,
            },
      )
      const usage = model.startsWith('gpt-image') ? imageUsage(body.prompt, n) : undefined
      json(res, 200, { created: Math.floor(Date.now() / 1000), data, ...(usage && { usage }) })
    }
    return true
  }
  if (operation === 'images/edits') {
    const form = await multipartForm(ctx)
    if (!form) return true
    const images = [...form.getAll('image'), ...form.getAll('image[]')]
    const prompt = form.get('prompt')
    const mask = form.get('mask')
    if (images.length === 0) return (badRequest(res, "Missing required parameter: 'image'.", 'image'), true)
    if (typeof prompt !== 'string' || !prompt)
      return (badRequest(res, "Missing required parameter: 'prompt'.", 'prompt'), true)
    for (const [field, file] of [...images.map((f) => ['image', f] as const), ['mask', mask] as const]) {
      if (file === null) continue
      if (typeof file === 'string' || !IMAGE_TYPES.includes(file.type)) {
        unsupportedMimetype(res, field, typeof file === 'string' ? 'text/plain' : file.type, IMAGE_TYPES)
        return true
      }
    }
    if (model === 'dall-e-2' && images.length > 1) {
      badRequest(res, "Invalid 'image': dall-e-2 edits one image at a time.", 'image')
      return true
    }
    // What the fake "painted": the prompt and each file as it arrived (name, size, text), for tests.
    const files = [...(images as File[]), ...(mask ? [mask as File] : [])]
    const seen = (await Promise.all(files.map(async (f) => `${f.name}(${f.size}):${await f.text()}`))).join(
      '+',
    )
    const picture = `png:edit:${prompt}:${seen}`
    if (form.get('stream') === 'true') {
      if (!model.startsWith('gpt-image')) badRequest(res, STREAM_UNSUPPORTED(model), 'stream')
      else streamImage(ctx, 'image_edit', picture, Number(form.get('partial_images') ?? 0), {})
      return true
    }
    const n = Number(form.get('n') ?? 1)
    const b64 = form.get('response_format') === 'b64_json' || model.startsWith('gpt-image')
    const data = Array.from({ length: n }, (_, i) =>
      b64
        ? { b64_json: Buffer.from(`${picture}:${i}`).toString('base64') }
        : { url: `https://images.fake/edits/${encodeURIComponent(prompt)}/${i}.png` },
    )
    const usage = model.startsWith('gpt-image') ? imageUsage(prompt, n, images.length) : undefined
    json(res, 200, { created: Math.floor(Date.now() / 1000), data, ...(usage && { usage }) })
    return true
  }
  if (operation === 'images/variations') {
    const form = await multipartForm(ctx)
    if (!form) return true
    const image = form.get('image')
    if (!image) return (badRequest(res, "Missing required parameter: 'image'.", 'image'), true)
    if (typeof image === 'string' || image.type !== 'image/png') {
      unsupportedMimetype(res, 'image', typeof image === 'string' ? 'text/plain' : image.type, ['image/png'])
      return true
    }
    const requested = form.get('model')
    if (requested !== null && requested !== 'dall-e-2') {
      badRequest(
        res,
        `Invalid value for 'model': '${String(requested)}'. Only 'dall-e-2' is supported.`,
        'model',
      )
      return true
    }
    const n = Number(form.get('n') ?? 1)
    const label = encodeURIComponent(`${image.name}(${image.size}):${await image.text()}`)
    const data = Array.from({ length: n }, (_, i) =>
      form.get('response_format') === 'b64_json'
        ? { b64_json: Buffer.from(`png:variation:${i}`).toString('base64') }
        : { url: `https://images.fake/variations/${label}/${i}.png` },
    )
    json(res, 200, { created: Math.floor(Date.now() / 1000), data })
    return true
  }
  if (operation === 'audio/speech') {
    if (typeof body?.input !== 'string' || !body.input)
      badRequest(res, "Missing required parameter: 'input'.", 'input')
    else if (!body.voice) badRequest(res, "Missing required parameter: 'voice'.", 'voice')
    else if (body.stream_format === 'sse') {
      if (!model.startsWith('gpt-4o')) {
        badRequest(res, `stream_format 'sse' is not supported for model '${model}'.`, 'stream_format')
        return true
      }
      // The audio in base64 deltas, then the usage: OpenAI's speech events.
      const audio = fakeSpeech(body.input, typeof body.voice === 'string' ? body.voice : body.voice.id)
      const sse = new SseWriter(res, ctx.streamFault)
      for (let at = 0; at < audio.length; at += 8) {
        const delta = { type: 'speech.audio.delta', audio: audio.subarray(at, at + 8).toString('base64') }
        if (!sse.send(JSON.stringify(delta), delta.type)) return true
      }
      const input = countTokens(body.input)
      const done = {
        type: 'speech.audio.done',
        usage: { input_tokens: input, output_tokens: audio.length, total_tokens: input + audio.length },
      }
      if (sse.send(JSON.stringify(done), done.type)) sse.end()
    } else {
      const format = body.response_format ?? 'mp3'
      res.writeHead(200, {
        'content-type': AUDIO_TYPES[format] ?? 'audio/mpeg',
        'transfer-encoding': 'chunked',
      })
      res.end(fakeSpeech(body.input, typeof body.voice === 'string' ? body.voice : body.voice.id))
    }
    return true
  }
  if (operation === 'audio/transcriptions') {
    const form = await multipartForm(ctx)
    if (!form) return true
    const file = form.get('file')
    if (!file || typeof file === 'string') {
      badRequest(res, "Missing required parameter: 'file'.", 'file')
      return true
    }
    const audio = await file.text()
    const text = `heard ${file.size} bytes of ${file.name}: ${audio.slice(0, 40)}`
    const format = form.get('response_format') ?? 'json'
    if (format === 'text' || format === 'srt' || format === 'vtt') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
      res.end(format === 'text' ? `${text}\n` : `1\n00:00:00,000 --> 00:00:01,000\n${text}\n`)
      return true
    }
    const usage = model.startsWith('gpt-4o')
      ? {
          type: 'tokens',
          input_tokens: 12,
          output_tokens: countTokens(text),
          total_tokens: 12 + countTokens(text),
        }
      : { type: 'duration', seconds: 1 }
    if (format === 'verbose_json') {
      json(res, 200, {
        task: 'transcribe',
        language: String(form.get('language') ?? 'english'),
        duration: 1,
        text,
        segments: [{ id: 0, start: 0, end: 1, text }],
        usage,
      })
    } else json(res, 200, { text, usage })
    return true
  }
  return false
}

/** A fake OpenAI with the image and audio endpoints; the rest of the API is relayed to `startFakeOpenAI`. */
export async function startFakeOpenAIWithMedia(): Promise<{ server: FakeServer; close(): Promise<void> }> {
  const openai = await startFakeOpenAI()
  const server = await new FakeServer(async (ctx) => {
    const auth = ctx.req.headers.authorization
    if (auth !== 'Bearer sk-test') {
      return json(ctx.res, 401, {
        error: {
          message: 'Incorrect API key provided.',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      })
    }
    const route = ctx.path.split('?')[0]
    const operation = route.replace(/^\/v1\//, '')
    if (await openAIMedia(ctx, operation, mediaModel(ctx))) return
    await relay(ctx, `${openai.url}${ctx.path}`, undefined, openai)
  }).start()
  return {
    server,
    async close() {
      await Promise.all([server.close(), openai.close()])
    },
  }
}

/** The model a media request names: in the JSON body, or in a multipart form's `model` field. */
function mediaModel(ctx: FakeContext): string {
  if (ctx.body && typeof ctx.body === 'object' && typeof ctx.body.model === 'string') return ctx.body.model
  const m = /name="model"\r\n\r\n([^\r]*)/.exec(String(ctx.body))
  return m?.[1] ?? ''
}
