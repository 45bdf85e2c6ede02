import { verify } from 'node:crypto'
import { startFakeAnthropic } from './anthropic.js'
import { startFakeGemini } from './gemini.js'
import { fakeVector } from './openai.js'
import { countTokens, FakeServer, type FakeContext } from './server.js'

/**
 * A fake Google Cloud: an OAuth token endpoint for service accounts and a Vertex AI API that
 * requires its tokens.
 *
 * Token endpoint (`POST /token`, form-encoded, as oauth2.googleapis.com/token): grant_type must be
 * `urn:ietf:params:oauth:grant-type:jwt-bearer`; the `assertion` must be an RS256 JWT signed with the
 * service account's private key (checked against `publicKeyPem`), issued by `clientEmail`, with
 * aud `https://oauth2.googleapis.com/token`, the cloud-platform scope and a live exp. Anything else
 * answers 400 `invalid_grant` as Google does. Tokens live `ttlSeconds` (settable).
 *
 * Vertex API (`/v1/projects/{project}/locations/{region}/publishers/{google|anthropic}/models/{m}:{method}`):
 * a missing or unknown Bearer token answers 401 UNAUTHENTICATED, another project 403
 * PERMISSION_DENIED, another region 400. Gemini methods (generateContent, streamGenerateContent?alt=sse)
 * are answered by the fake Gemini API, Claude's (rawPredict, streamRawPredict) by the fake Anthropic
 * API after Vertex's own checks: `anthropic_version: vertex-2023-10-16` in the body, no `model`,
 * `stream` matching the method. `predict` on an embedding model answers Vertex's predictions shape.
 */
export interface FakeGoogleCloud {
  oauth: FakeServer
  vertex: FakeServer
  /** Access tokens issued so far. */
  issued: string[]
  /** Lifetime of the next tokens, in seconds. */
  ttlSeconds: number
  /** Revokes every token issued so far (Vertex then answers 401 to them). */
  revokeAll(): void
  close(): Promise<void>
}

export const GOOGLE_TOKEN_AUDIENCE = 'https://oauth2.googleapis.com/token'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform'

export async function startFakeGoogleCloud(opts: {
  publicKeyPem: string
  clientEmail: string
  project: string
  region: string
}): Promise<FakeGoogleCloud> {
  const gemini = await startFakeGemini()
  const anthropic = await startFakeAnthropic()
  const live = new Map<string, number>()
  let seq = 0

  const cloud: FakeGoogleCloud = {
    issued: [],
    ttlSeconds: 3600,
    revokeAll: () => live.clear(),
    oauth: new FakeServer((ctx) => token(ctx)),
    vertex: new FakeServer((ctx) => api(ctx)),
    async close() {
      await Promise.all([cloud.oauth.close(), cloud.vertex.close(), gemini.close(), anthropic.close()])
    },
  }

  function token({ res, path, body }: FakeContext): void {
    if (path !== '/token') return json(res, 404, { error: 'not_found' })
    const form = new URLSearchParams(typeof body === 'string' ? body : '')
    const refuse = (description: string) =>
      json(res, 400, { error: 'invalid_grant', error_description: description })
    if (form.get('grant_type') !== JWT_BEARER) {
      return json(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' })
    }
    const parts = (form.get('assertion') ?? '').split('.')
    if (parts.length !== 3)
      return refuse('Invalid JWT: Token must be a short-lived token and in a reasonable timeframe')
    let header: Record<string, unknown>
    let claims: Record<string, unknown>
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'))
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'))
    } catch {
      return refuse('Invalid JWT: malformed')
    }
    const signed = verify(
      'RSA-SHA256',
      Buffer.from(`${parts[0]}.${parts[1]}`),
      opts.publicKeyPem,
      Buffer.from(parts[2], 'base64url'),
    )
    if (header.alg !== 'RS256' || !signed) return refuse('Invalid JWT Signature.')
    const now = Math.floor(Date.now() / 1000)
    if (claims.iss !== opts.clientEmail) return refuse('Invalid issuer: unknown service account')
    if (claims.aud !== GOOGLE_TOKEN_AUDIENCE) return refuse('Invalid JWT: audience')
    if (
      typeof claims.exp !== 'number' ||
      claims.exp < now ||
      typeof claims.iat !== 'number' ||
      claims.iat > now + 60
    )
      return refuse('Invalid JWT: Token must be a short-lived token and in a reasonable timeframe')
    if (
      !String(claims.scope ?? '')
        .split(' ')
        .includes(CLOUD_PLATFORM)
    )
      return refuse('Invalid OAuth scope')
    const accessToken = `ya29.fake-${++seq}-${Date.now().toString(36)}`
    live.set(accessToken, Date.now() + cloud.ttlSeconds * 1000)
    cloud.issued.push(accessToken)
    json(res, 200, { access_token: accessToken, expires_in: cloud.ttlSeconds, token_type: 'Bearer' })
  }

  async function api(ctx: FakeContext): Promise<void> {
    const { req, res, path, body } = ctx
    const auth = req.headers.authorization ?? ''
    const expiry = live.get(auth.replace(/^Bearer /, ''))
    if (!auth.startsWith('Bearer ') || expiry === undefined || expiry < Date.now()) {
      return googleError(
        res,
        401,
        'UNAUTHENTICATED',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      )
    }
    const url = new URL(path, 'http://fake')
    const m =
      /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/(google|anthropic)\/models\/([^/:]+):(\w+)$/.exec(
        url.pathname,
      )
    if (req.method !== 'POST' || !m) return googleError(res, 404, 'NOT_FOUND', `Not found: ${url.pathname}`)
    const [, project, region, publisher, model, method] = m
    if (project !== opts.project) {
      return googleError(
        res,
        403,
        'PERMISSION_DENIED',
        `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/${project}/locations/${region}/publishers/${publisher}/models/${model}' (or it may not exist).`,
      )
    }
    if (region !== opts.region) {
      return googleError(
        res,
        400,
        'FAILED_PRECONDITION',
        `Location ${region} is not the one this request was sent to.`,
      )
    }
    if (publisher === 'google') {
      if (method === 'predict') return predict(ctx)
      if (method !== 'generateContent' && method !== 'streamGenerateContent')
        return googleError(res, 400, 'INVALID_ARGUMENT', `Unsupported method ${method}`)
      return relay(
        ctx,
        gemini,
        `${gemini.url}/v1beta/models/${model}:${method}${url.search}`,
        { 'x-goog-api-key': 'vertex' },
        body,
      )
    }
    if (method !== 'rawPredict' && method !== 'streamRawPredict')
      return googleError(res, 400, 'INVALID_ARGUMENT', `Unsupported method ${method}`)
    if (!body || typeof body !== 'object') return anthropicError(res, 'body: expected a JSON object')
    if (body.anthropic_version !== 'vertex-2023-10-16')
      return anthropicError(res, 'anthropic_version: Input should be vertex-2023-10-16')
    if ('model' in body) return anthropicError(res, 'model: Extra inputs are not permitted')
    // Claude on Vertex has no structured outputs (Bifrost, too, sends a forced tool there).
    if ('output_format' in body) return anthropicError(res, 'output_format: Extra inputs are not permitted')
    if (body.output_config?.format !== undefined)
      return anthropicError(res, 'output_config.format: Extra inputs are not permitted')
    if (Boolean(body.stream) !== (method === 'streamRawPredict'))
      return anthropicError(res, `stream must be ${method === 'streamRawPredict'} for ${method}`)
    const { anthropic_version: _v, anthropic_beta: _b, ...rest } = body
    return relay(
      ctx,
      anthropic,
      `${anthropic.url}/v1/messages`,
      { 'x-api-key': 'sk-vertex', 'anthropic-version': '2023-06-01' },
      { model, ...rest },
    )
  }

  return cloud.oauth
    .start()
    .then(() => cloud.vertex.start())
    .then(() => cloud)
}

function predict({ res, body }: FakeContext): void {
  const instances: { content?: unknown }[] = Array.isArray(body?.instances) ? body.instances : []
  if (instances.length === 0 || instances.some((i) => typeof i.content !== 'string'))
    return googleError(res, 400, 'INVALID_ARGUMENT', 'instances[].content is required')
  const dims =
    typeof body.parameters?.outputDimensionality === 'number' ? body.parameters.outputDimensionality : 8
  json(res, 200, {
    predictions: instances.map((i) => ({
      embeddings: {
        values: fakeVector(i.content as string, dims),
        statistics: { truncated: false, token_count: countTokens(i.content as string) },
      },
    })),
    metadata: { billableCharacterCount: instances.reduce((n, i) => n + (i.content as string).length, 0) },
  })
}

/** Passes a request to the fake that speaks the model's wire format, and its answer back as it streams. */
async function relay(
  { res, report }: FakeContext,
  backend: FakeServer,
  url: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<void> {
  const seen = backend.answers.length
  const upstream = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  res.writeHead(upstream.status, {
    'content-type': upstream.headers.get('content-type') ?? 'application/json',
  })
  if (upstream.body) for await (const chunk of upstream.body) res.write(chunk)
  res.end()
  // Vertex reports the answer of the model's own API as its own.
  for (const a of backend.answers.slice(seen)) report(a)
}

function json(res: FakeContext['res'], status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' })
  res.end(JSON.stringify(value))
}

function googleError(res: FakeContext['res'], code: number, status: string, message: string): void {
  json(res, code, { error: { code, message, status } })
}

function anthropicError(res: FakeContext['res'], message: string): void {
  json(res, 400, { type: 'error', error: { type: 'invalid_request_error', message } })
}
