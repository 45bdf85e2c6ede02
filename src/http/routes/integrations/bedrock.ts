import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayContext } from '../../../core/context.js'
import { asGatewayError, GatewayError, type RequestType } from '../../../core/errors.js'
import { setErrorHeaders } from '../../errors.js'
import type { ChatRequest, EmbeddingRequest } from '../../../core/schemas/index.js'
import {
  anthropicToChat,
  chatToAnthropicMessage,
  chatToConverse,
  converseToChat,
  detectInvokeFamily,
  INVOKE_EXCHANGES,
  type InvokeExchange,
  modelFromPath,
  standInCallSignatures,
  streamExceptionName,
  StreamMeter,
  toBedrockError,
  translateChatToAnthropicStream,
  translateChatToConverseStream,
  validateConverseBody,
  validateMessagesBody,
} from '../../../integrations/index.js'
import { encodeEvent, encodeException } from '../../../providers/index.js'
import type { ChatStreamItem, ProviderAdapter, StreamResult } from '../../../core/provider-adapter.js'
import { relaySse } from '../../sse.js'
import { beginRequest, overheadMs, responseHeaders } from '../inference.js'
import { registerBedrockJobRoutes } from './bedrock-jobs.js'
import type { DropInDeps } from './index.js'

const EVENT_STREAM = 'application/vnd.amazon.eventstream'

type Params = { modelId: string }

/** An error as AWS answers it: status, `x-amzn-errortype`, `{message}`; the Bedrock SDK raises the named class. */
function sendBedrockError(reply: FastifyReply, err: unknown, ctx?: GatewayContext): FastifyReply {
  const g = asGatewayError(err)
  const e = toBedrockError(g)
  if (ctx) reply.header('x-heimdall-overhead-ms', overheadMs(ctx))
  setErrorHeaders(reply, g)
  return reply
    .code(e.status)
    .header('x-amzn-errortype', e.name)
    .type('application/json')
    .send(JSON.stringify({ message: e.message }))
}

/** Writes event-stream messages as they come; a failure after the first byte ends with an exception message. */
async function relayEventStream(
  reply: FastifyReply,
  ctx: GatewayContext,
  result: StreamResult<ChatStreamItem>,
  events: AsyncIterable<Uint8Array>,
): Promise<void> {
  const headers = { ...responseHeaders(ctx, result.headers), 'content-type': EVENT_STREAM }
  await relaySse(reply, ctx, headers, events, {
    frames: (message) => Buffer.from(message),
    failure(err) {
      const e = toBedrockError(err)
      return Buffer.from(encodeException(streamExceptionName(e.name), e.message))
    },
  })
}

async function* converseFrames(
  items: AsyncIterable<ChatStreamItem>,
  startedAt: number,
): AsyncGenerator<Uint8Array> {
  for await (const e of translateChatToConverseStream(items, startedAt)) yield encodeEvent(e.type, e.payload)
}

/** InvokeModelWithResponseStream's framing: each native event is a `chunk` with its JSON as base64 `bytes`. */
async function* invokeFrames(events: AsyncIterable<unknown>): AsyncGenerator<Uint8Array> {
  for await (const e of events)
    yield encodeEvent('chunk', { bytes: Buffer.from(JSON.stringify(e)).toString('base64') })
}

/** Converse's toolUse has no place for Gemini's signature on a call: Gemini gets Google's stand-in. */
function forTarget(req: ChatRequest, adapter: ProviderAdapter, model: string): ChatRequest {
  const geminiTarget = adapter.format === 'gemini' || adapter.format === 'vertex'
  return geminiTarget ? standInCallSignatures(req, model) : req
}

/**
 * Runs a body translation. The translations are pure functions of the body, so anything but a
 * GatewayError they throw comes from a malformed body (a string where a list belongs): a 400.
 */
function readBody<T>(translate: () => T): T {
  try {
    return translate()
  } catch (err) {
    if (err instanceof GatewayError) throw err
    throw new GatewayError(
      'invalid_request',
      'Malformed input request: the body does not follow the schema of its model family',
      { retryable: false },
    )
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Claude's Messages body through the Anthropic integration; Bedrock adds its metrics to `message_stop`. */
function anthropicExchange(body: Record<string, unknown>, model: string): InvokeExchange {
  const { anthropic_version: _version, ...rest } = body
  const messages = validateMessagesBody({ ...rest, model })
  const anthropicTarget = /^bedrock\/.*anthropic\./.test(model) || model.startsWith('anthropic/')
  const request: ChatRequest = { ...anthropicToChat(messages, anthropicTarget), model }
  return {
    request,
    respond: (res) => chatToAnthropicMessage(res, model),
    async *stream(items, meter) {
      for await (const e of translateChatToAnthropicStream(items, model))
        yield e.type === 'message_stop' ? meter.closing(e) : e
    },
  }
}

/**
 * `/bedrock/model/{modelId}/converse`, `/converse-stream`, `/invoke` and `/invoke-with-response-stream`
 * as Bedrock Runtime serves them, for `@aws-sdk/client-bedrock-runtime` with `endpoint:
 * '{gateway}/bedrock'`. The model id (URL-decoded) names a Bedrock model or ARN, sent to the
 * `bedrock` provider, or `provider/model` for any other provider. Governed like `/v1`: the SDK's
 * SigV4 signature is not checked against AWS credentials; a virtual key comes as `x-bf-vk` (a
 * header the caller adds with an SDK middleware) or as a Bedrock API key (`token` /
 * AWS_BEARER_TOKEN_BEDROCK = `sk-bf-...`, sent as `Authorization: Bearer`). The client speaks
 * HTTP/2 by default; give it `requestHandler: new NodeHttpHandler()` for this HTTP/1.1 server.
 * InvokeModel takes each family's native body (Claude, Llama, Mistral, Titan Text, Nova, Command R,
 * Titan and Cohere embeddings; see detectInvokeFamily) for any target, and answers in that
 * family's shape; others are a ValidationException.
 */
export function registerBedrockIntegration(app: FastifyInstance, deps: DropInDeps): void {
  const { gateway } = deps
  const begin = (request: FastifyRequest, reply: FastifyReply, type: RequestType, model: string) =>
    beginRequest(request, reply, type, model, deps.allowDirectKeys())

  async function converse(request: FastifyRequest, reply: FastifyReply, stream: boolean): Promise<unknown> {
    const model = modelFromPath((request.params as Params).modelId)
    const req = readBody(() => converseToChat(validateConverseBody(request.body), model))
    const ctx = begin(request, reply, stream ? 'chat_completion_stream' : 'chat_completion', model)
    ctx.passthrough = false
    const startedAt = Date.now()
    try {
      if (stream) {
        const streamed = { ...req, stream: true }
        const result = await gateway.streamOperation(ctx, streamed, undefined, (adapter, a) =>
          adapter.chatStream(a, forTarget(streamed, adapter, a.model)),
        )
        return await relayEventStream(reply, ctx, result, converseFrames(result.items, startedAt))
      }
      const result = await gateway.operation(ctx, req, undefined, (adapter, a) =>
        adapter.chat(a, forTarget(req, adapter, a.model)),
      )
      return reply
        .headers(responseHeaders(ctx, result.headers))
        .type('application/json')
        .send(JSON.stringify(chatToConverse(result.body, Date.now() - startedAt)))
    } catch (err) {
      return sendBedrockError(reply, err, ctx)
    }
  }

  async function invoke(request: FastifyRequest, reply: FastifyReply, stream: boolean): Promise<unknown> {
    const modelId = (request.params as Params).modelId
    const model = modelFromPath(modelId)
    const body = request.body
    if (!isObject(body)) throw new GatewayError('invalid_request', 'The request body must be a JSON object.')
    const family = detectInvokeFamily(body, modelId)
    if (family === 'titan-embedding' || family === 'cohere-embedding') {
      if (stream)
        throw new GatewayError('invalid_request', 'embedding models do not take invoke-with-response-stream')
      return invokeEmbeddings(request, reply, body, model, family === 'titan-embedding')
    }
    if (!family)
      throw new GatewayError(
        'invalid_request',
        'unsupported InvokeModel body: this gateway takes the native bodies of Anthropic Claude (anthropic_version), Meta Llama and Mistral (prompt), Mistral Large 2 and Amazon Nova (messages), Amazon Titan Text (inputText + textGenerationConfig), Cohere Command R (message) and Titan / Cohere embeddings (inputText, texts)',
      )
    const exchange = readBody(() =>
      family === 'anthropic' ? anthropicExchange(body, model) : INVOKE_EXCHANGES[family](body, model),
    )
    return invokeChat(request, reply, exchange, model, stream)
  }

  async function invokeChat(
    request: FastifyRequest,
    reply: FastifyReply,
    exchange: InvokeExchange,
    model: string,
    stream: boolean,
  ): Promise<unknown> {
    const ctx = begin(request, reply, stream ? 'chat_completion_stream' : 'chat_completion', model)
    ctx.passthrough = false
    const startedAt = Date.now()
    try {
      if (stream) {
        const result = await gateway.chatStream(ctx, { ...exchange.request, stream: true })
        const meter = new StreamMeter(startedAt)
        return await relayEventStream(
          reply,
          ctx,
          result,
          invokeFrames(exchange.stream(meter.observe(result.items), meter)),
        )
      }
      const result = await gateway.chat(ctx, { ...exchange.request, stream: false })
      const usage = result.body.usage
      return reply
        .headers(responseHeaders(ctx, result.headers))
        .headers({
          'x-amzn-bedrock-input-token-count': String(usage?.prompt_tokens ?? 0),
          'x-amzn-bedrock-output-token-count': String(usage?.completion_tokens ?? 0),
          'x-amzn-bedrock-invocation-latency': String(Date.now() - startedAt),
        })
        .type('application/json')
        .send(JSON.stringify(exchange.respond(result.body)))
    } catch (err) {
      return sendBedrockError(reply, err, ctx)
    }
  }

  async function invokeEmbeddings(
    request: FastifyRequest,
    reply: FastifyReply,
    body: Record<string, unknown>,
    model: string,
    titan: boolean,
  ): Promise<unknown> {
    if (titan && (typeof body.inputText !== 'string' || !body.inputText))
      throw new GatewayError('invalid_request', 'inputText must be a non-empty string', {
        param: 'inputText',
      })
    const texts = titan ? [body.inputText as string] : (body.texts as unknown[])
    if (!texts.length || texts.some((t) => typeof t !== 'string'))
      throw new GatewayError('invalid_request', 'texts must be a non-empty list of strings', {
        param: 'texts',
      })
    const req: EmbeddingRequest = { model, input: titan ? (texts[0] as string) : (texts as string[]) }
    if (titan && typeof body.dimensions === 'number') req.dimensions = body.dimensions
    if (!titan && typeof body.input_type === 'string')
      (req as Record<string, unknown>).input_type = body.input_type
    const ctx = begin(request, reply, 'embedding', model)
    try {
      const result = await gateway.embeddings(ctx, req)
      const data = result.body.data.map((d) => d.embedding)
      const out = titan
        ? { embedding: data[0], inputTextTokenCount: result.body.usage?.prompt_tokens ?? 0 }
        : { id: ctx.requestId, texts, embeddings: data, response_type: 'embeddings_floats' }
      return reply
        .headers(responseHeaders(ctx, result.headers))
        .type('application/json')
        .send(JSON.stringify(out))
    } catch (err) {
      return sendBedrockError(reply, err, ctx)
    }
  }

  void app.register(async (scope) => {
    // Errors before a request reaches the gateway (bad JSON, bad body) also leave in AWS's shape.
    scope.setErrorHandler((err, _request, reply) => {
      const e = err as { statusCode?: number; code?: string; message: string }
      if (err instanceof GatewayError) return sendBedrockError(reply, err)
      const status = e.statusCode && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500
      return sendBedrockError(
        reply,
        new GatewayError(status === 500 ? 'internal' : 'invalid_request', e.message, { status }),
      )
    })
    // One wildcard route: model ids and ARNs (with '/' once decoded) exceed the router's param length.
    scope.post('/bedrock/model/*', (request, reply) => {
      const rest = (request.params as { '*': string })['*']
      const at = rest.lastIndexOf('/')
      const operation = rest.slice(at + 1)
      ;(request.params as Params).modelId = rest.slice(0, Math.max(at, 0))
      switch (operation) {
        case 'converse':
          return converse(request, reply, false)
        case 'converse-stream':
          return converse(request, reply, true)
        case 'invoke':
          return invoke(request, reply, false)
        case 'invoke-with-response-stream':
          return invoke(request, reply, true)
      }
      throw new GatewayError('route_not_found', `no Bedrock Runtime operation ${operation} on /bedrock/model`)
    })
    registerBedrockJobRoutes(scope, deps, '/bedrock', sendBedrockError)
  })
}
