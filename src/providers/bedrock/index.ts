import type { ProviderConfig } from '../../core/schemas/index.js'
import * as http from '../http.js'
import type { Attempt, ProviderAdapter } from '../../core/provider-adapter.js'
import { GatewayError } from '../../core/errors.js'
import { planBedrockEmbeddings } from './embeddings.js'
import { bedrockError } from './errors.js'
import { toConverseRequest } from './request.js'
import { fromConverseResponse } from './response.js'
import { bedrockSettings, modelPathSegment } from './settings.js'
import { signedHeaders } from './sign.js'
import { translateConverseStream } from './stream.js'
import type { ConverseResponse } from './types.js'

export { decodeEventStream, encodeEvent, encodeException, type EventStreamMessage } from './eventstream.js'
export { awsErrorName } from './errors.js'
export { toFinishReason as converseToFinishReason, toUsage as converseToUsage } from './response.js'
export { toConverseRequest } from './request.js'
export { fromConverseResponse } from './response.js'
export { translateConverseStream } from './stream.js'
export { BEDROCK_REASONING_FORMAT } from './types.js'
export type * from './types.js'

const FORWARDED_HEADERS = ['x-amzn-requestid']

/** The adapter for AWS Bedrock Runtime: chat through Converse / ConverseStream, embeddings through InvokeModel. */
export function createBedrockAdapter(cfg: ProviderConfig): ProviderAdapter {
  const name = cfg.name

  async function post(a: Attempt, op: string, body: unknown, accept: string): Promise<http.UpstreamResponse> {
    const s = bedrockSettings(a, cfg)
    const base = (cfg.network_config.base_url ?? `https://bedrock-runtime.${s.region}.amazonaws.com`).replace(
      /\/+$/,
      '',
    )
    const url = new URL(`${base}/model/${modelPathSegment(a.model, s)}/${op}`)
    const text = JSON.stringify(body)
    const baseHeaders: Record<string, string> = { 'content-type': 'application/json', accept }
    // Extra headers may not touch what SigV4 signs and sets (x-amz-date, x-amz-security-token ...).
    for (const [k, v] of Object.entries(a.extraHeaders))
      if (!k.toLowerCase().startsWith('x-amz-')) baseHeaders[k.toLowerCase()] = v
    const headers = await signedHeaders(s, url, text, baseHeaders)
    const res = await http.sendUpstream(a, { url: url.toString(), headers, body: text }, name)
    if (res.statusCode >= 400) {
      throw bedrockError(name, res.statusCode, await http.readText(res, name, a.signal), res.headers)
    }
    return res
  }

  return {
    format: 'bedrock',

    async chat(a, req) {
      const res = await post(a, 'converse', toConverseRequest(req, a.model), 'application/json')
      const text = await http.readText(res, name, a.signal)
      const body = fromConverseResponse(
        http.parseJsonBody<ConverseResponse>(name, text),
        a.model,
        a.requestId,
      )
      return { body, usage: body.usage, headers: http.forwardedHeaders(res, FORWARDED_HEADERS) }
    },

    async chatStream(a, req) {
      const res = await post(
        a,
        'converse-stream',
        toConverseRequest(req, a.model),
        'application/vnd.amazon.eventstream',
      )
      const ct = http.headerValue(res.headers, 'content-type') ?? ''
      if (!ct.includes('eventstream')) {
        http.discard(res)
        throw new GatewayError(
          'upstream_bad_response',
          `${name} answered a stream request with ${ct || 'no content type'}`,
          {
            retryable: true,
          },
        )
      }
      return {
        items: translateConverseStream(res.body, name, a.model, a.requestId),
        headers: http.forwardedHeaders(res, FORWARDED_HEADERS),
      }
    },

    async embeddings(a, req) {
      const s = bedrockSettings(a, cfg)
      const plan = planBedrockEmbeddings(req, s.deployments[a.model] ?? a.model)
      const answers: unknown[] = []
      for (const body of plan.bodies) {
        const res = await post(a, 'invoke', body, 'application/json')
        answers.push(http.parseJsonBody(name, await http.readText(res, name, a.signal)))
      }
      const out = plan.merge(answers, a.model)
      if (req.encoding_format === 'base64') {
        for (const d of out.data)
          if (Array.isArray(d.embedding))
            d.embedding = Buffer.from(new Float32Array(d.embedding).buffer).toString('base64')
      }
      return { body: out, usage: { ...out.usage, completion_tokens: 0 } }
    },
  }
}
