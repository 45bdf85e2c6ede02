import { Sha256 } from '@aws-crypto/sha256-js'
import { SignatureV4 } from '@smithy/signature-v4'
import type { ServerResponse } from 'node:http'
import { encodeEvent, encodeException } from '../../src/providers/bedrock/index.js'
import {
  countTokens,
  FakeServer,
  pieces,
  type FakeContext,
  type Fault,
  type ReportedAnswer,
} from './server.js'
import { sampleOf } from './json-schema-sample.js'

/**
 * A fake AWS Bedrock Runtime that speaks its published wire formats: `POST /model/{modelId}/converse`
 * (JSON), `/converse-stream` (AWS event-stream framing: messageStart, contentBlockStart/Delta/Stop,
 * messageStop, metadata), `/invoke` (Anthropic Messages with `anthropic_version`, Titan and Cohere
 * embeddings) and `/invoke-with-response-stream` (each Anthropic event as a `chunk` with base64
 * `bytes`). Every request must carry a SigV4 signature made with one of `credentials` (service
 * `bedrock`, any region); the fake recomputes it with @smithy/signature-v4 and answers 403
 * InvalidSignatureException (or UnrecognizedClientException for an unknown key) as AWS does.
 *
 * Triggers: `toolConfig` and a last user turn without toolResult: some text, then a toolUse block
 * per tool offered, up to two in parallel (input streamed in small pieces);
 * `additionalModelRequestFields.thinking` (Claude) or `.reasoningConfig`: a signed reasoning block
 * first, and for a Claude model a tool turn sent back must start with it (ValidationException);
 * a system `cachePoint`: 6 cacheReadInputTokens; a `cachePoint` among the messages or tools: 4
 * cacheWriteInputTokens, with `cacheDetails` by the points' `ttl` (1h if any says so); a model id containing `throttled`: 429
 * ThrottlingException; `[stream-error]` in the prompt: a modelStreamErrorException mid-stream;
 * `outputConfig.textFormat` (structured output, the schema a JSON string): JSON text fitting it.
 */
export interface FakeBedrockCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

export async function startFakeBedrock(credentials: FakeBedrockCredentials[]): Promise<FakeServer> {
  return new FakeServer((ctx) => handle(ctx, credentials)).start()
}

/** A queued fault in AWS's error shape, e.g. `bedrockFault(429, 'ThrottlingException')`. */
export function bedrockFault(status: number, errorType: string, message = `injected ${status}`): Fault {
  return { kind: 'status', status, body: JSON.stringify({ __type: errorType, message }) }
}

/** The signature the fake gives a reasoning text, and checks when it comes back. */
export function fakeBedrockSignature(text: string): string {
  return 'brsig_' + Buffer.from(text, 'utf8').toString('base64')
}

function awsError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    'x-amzn-requestid': 'fake-request-id',
  })
  res.end(JSON.stringify({ message }))
}

/** Recomputes the request's SigV4 signature; returns an AWS error name when it does not hold. */
export async function verifySignature(
  ctx: FakeContext,
  credentials: FakeBedrockCredentials[],
  raw: string,
): Promise<string | undefined> {
  const auth = String(ctx.req.headers.authorization ?? '')
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(
      auth,
    )
  if (!m) return 'MissingAuthenticationTokenException'
  const [, keyId, , region, service, signedHeaders, signature] = m
  const cred = credentials.find((c) => c.accessKeyId === keyId)
  if (!cred || service !== 'bedrock') return 'UnrecognizedClientException'
  if (cred.sessionToken && ctx.req.headers['x-amz-security-token'] !== cred.sessionToken)
    return 'UnrecognizedClientException'
  const amzDate = String(ctx.req.headers['x-amz-date'] ?? '')
  const dm = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)
  if (!dm) return 'InvalidSignatureException'
  const signingDate = new Date(Date.UTC(+dm[1], +dm[2] - 1, +dm[3], +dm[4], +dm[5], +dm[6]))
  const headers: Record<string, string> = {}
  for (const h of signedHeaders.split(';')) {
    const v = ctx.req.headers[h]
    if (v !== undefined) headers[h] = Array.isArray(v) ? v.join(',') : v
  }
  const [path, query = ''] = (ctx.req.url ?? '/').split('?')
  const signer = new SignatureV4({ credentials: cred, region, service, sha256: Sha256 })
  const signed = await signer.sign(
    {
      method: ctx.req.method ?? 'POST',
      protocol: 'http:',
      hostname: String(ctx.req.headers.host ?? '').split(':')[0],
      path,
      query: Object.fromEntries(new URLSearchParams(query)),
      headers,
      body: raw,
    },
    { signingDate },
  )
  const expected = /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization))?.[1]
  return expected === signature ? undefined : 'InvalidSignatureException'
}

interface Block {
  text?: string
  toolUse?: { toolUseId: string; name: string; input: Record<string, unknown> }
  reasoningContent?: { reasoningText: { text: string; signature: string } }
}

function lastUserText(messages: any[]): string {
  const last = [...messages].reverse().find((m) => m.role === 'user')
  return (last?.content ?? []).map((b: any) => b.text ?? '').join('')
}

/** The answer a Converse request gets, as content blocks, a stop reason and usage. */
function answerConverse(body: any): { blocks: Block[]; stopReason: string; usage: Record<string, any> } {
  const messages: any[] = body.messages ?? []
  const last = messages[messages.length - 1]
  const blocks: Block[] = []
  // Claude takes `thinking`, Nova and the others `reasoningConfig`; both answer a reasoningContent block.
  const extra = body.additionalModelRequestFields ?? {}
  if (extra.thinking || extra.reasoningConfig) {
    const text = 'Let me think about it.'
    blocks.push({ reasoningContent: { reasoningText: { text, signature: fakeBedrockSignature(text) } } })
  }
  const results = (last?.content ?? []).filter((b: any) => b.toolResult).map((b: any) => b.toolResult)
  const tools = (body.toolConfig?.tools ?? []).filter((t: any) => t.toolSpec)
  let stopReason = 'end_turn'
  const prompt = lastUserText(messages)
  if (tools.length && !results.length) {
    const forced = body.toolConfig.toolChoice?.tool?.name
    const names: string[] = forced ? [forced] : tools.slice(0, 2).map((t: any) => t.toolSpec.name)
    blocks.push({ text: 'Let me look that up.' })
    names.forEach((name, i) =>
      blocks.push({
        toolUse: {
          toolUseId: `tooluse_fake0${i + 1}`,
          name,
          input: { city: i === 0 ? 'Paris' : 'Tokyo', unit: 'celsius' },
        },
      }),
    )
    stopReason = 'tool_use'
  } else if (results.length) {
    const said = results.map((r: any) =>
      (r.content ?? []).map((c: any) => c.text ?? JSON.stringify(c.json)).join(''),
    )
    blocks.push({ text: `The tool said: ${said.join(' | ')}` })
  } else if (body.outputConfig?.textFormat) {
    const schema = JSON.parse(body.outputConfig.textFormat.structure.jsonSchema.schema)
    blocks.push({ text: JSON.stringify(sampleOf(schema, `Bedrock echo: ${prompt}`)) })
  } else {
    blocks.push({ text: `Bedrock echo: ${prompt}` })
  }
  const cached = (body.system ?? []).some((s: any) => s.cachePoint) ? 6 : 0
  const input = countTokens(JSON.stringify(messages))
  const output = countTokens(
    blocks.map((b) => b.text ?? JSON.stringify(b.toolUse ?? b.reasoningContent)).join(''),
  )
  const usage: Record<string, number> = {
    inputTokens: input,
    outputTokens: output,
    totalTokens: input + output + cached,
  }
  if (cached) usage.cacheReadInputTokens = cached
  const points = [...messages.flatMap((m: any) => m.content ?? []), ...(body.toolConfig?.tools ?? [])]
    .map((b: any) => b.cachePoint)
    .filter(Boolean)
  const written: Record<string, unknown> = {}
  if (points.length) {
    const ttl = points.some((p: any) => p.ttl === '1h') ? '1h' : '5m'
    Object.assign(written, { cacheWriteInputTokens: 4, cacheDetails: [{ ttl, inputTokens: 4 }] })
    usage.totalTokens += 4
  }
  return { blocks, stopReason, usage: { ...usage, ...written } }
}

/** The answer in neutral terms, for `FakeServer.answers`. */
function reported(answer: ReturnType<typeof answerConverse>): ReportedAnswer {
  return {
    text: answer.blocks.map((b) => b.text ?? '').join(''),
    thinking: answer.blocks.map((b) => b.reasoningContent?.reasoningText.text ?? '').join(''),
    toolCalls: answer.blocks.flatMap((b) =>
      b.toolUse ? [{ name: b.toolUse.name, args: b.toolUse.input }] : [],
    ),
    usage: { input: answer.usage.inputTokens, output: answer.usage.outputTokens },
  }
}

function validateConverse(body: any, modelId: string): string | undefined {
  if (!Array.isArray(body?.messages) || body.messages.length === 0) return 'messages must not be empty'
  // Claude's own rule, which Bedrock passes on: with thinking, a tool turn starts with its reasoning.
  const lastAssistant = body.messages.findLastIndex((m: any) => m.role === 'assistant')
  const turn: any[] = lastAssistant === -1 ? [] : (body.messages[lastAssistant].content ?? [])
  if (
    modelId.includes('anthropic.') &&
    body.additionalModelRequestFields?.thinking?.type === 'enabled' &&
    turn.some((b) => b.toolUse) &&
    !turn[0]?.reasoningContent
  )
    return `messages.${lastAssistant}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${turn[0]?.toolUse ? 'tool_use' : 'text'}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`.`
  for (let i = 0; i < body.messages.length; i++) {
    const m = body.messages[i]
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role must be user or assistant`
    if (i > 0 && body.messages[i - 1].role === m.role)
      return 'A conversation must alternate between user and assistant roles.'
    for (const b of m.content ?? []) {
      const sig = b.reasoningContent?.reasoningText?.signature
      if (sig && sig !== fakeBedrockSignature(b.reasoningContent.reasoningText.text))
        return 'invalid reasoning signature'
    }
  }
  if (body.messages[0].role !== 'user') return 'A conversation must start with a user message.'
  const format = body.outputConfig?.textFormat
  if (format) {
    if (format.type !== 'json_schema') return 'outputConfig.textFormat.type must be json_schema'
    const schema = format.structure?.jsonSchema?.schema
    if (typeof schema !== 'string')
      return 'outputConfig.textFormat.structure.jsonSchema.schema must be a string'
    try {
      JSON.parse(schema)
    } catch {
      return 'outputConfig.textFormat.structure.jsonSchema.schema is not valid JSON'
    }
  }
  return undefined
}

function writeEvents(res: ServerResponse): (type: string, payload: unknown) => void {
  res.writeHead(200, {
    'content-type': 'application/vnd.amazon.eventstream',
    'x-amzn-requestid': 'fake-request-id',
  })
  return (type, payload) => res.write(encodeEvent(type, { ...(payload as object), p: 'abcd' }))
}

function streamConverse({ res, report }: FakeContext, body: any): void {
  const answer = answerConverse(body)
  report(reported(answer))
  const { blocks, stopReason, usage } = answer
  const send = writeEvents(res)
  send('messageStart', { role: 'assistant' })
  blocks.forEach((b, i) => {
    if (b.toolUse) {
      send('contentBlockStart', {
        contentBlockIndex: i,
        start: { toolUse: { toolUseId: b.toolUse.toolUseId, name: b.toolUse.name } },
      })
      const json = JSON.stringify(b.toolUse.input)
      for (let at = 0; at < json.length; at += 7)
        send('contentBlockDelta', {
          contentBlockIndex: i,
          delta: { toolUse: { input: json.slice(at, at + 7) } },
        })
    } else if (b.reasoningContent) {
      send('contentBlockDelta', {
        contentBlockIndex: i,
        delta: { reasoningContent: { text: b.reasoningContent.reasoningText.text } },
      })
      send('contentBlockDelta', {
        contentBlockIndex: i,
        delta: { reasoningContent: { signature: b.reasoningContent.reasoningText.signature } },
      })
    } else {
      for (const piece of pieces(b.text ?? ''))
        send('contentBlockDelta', { contentBlockIndex: i, delta: { text: piece } })
      if (lastUserText(body.messages).includes('[stream-error]')) {
        res.end(encodeException('modelStreamErrorException', 'the model stream failed'))
        return
      }
    }
    send('contentBlockStop', { contentBlockIndex: i })
  })
  if (res.writableEnded) return
  send('messageStop', { stopReason })
  send('metadata', { usage, metrics: { latencyMs: 12 } })
  res.end()
}

/** Anthropic's Messages answer to a Bedrock InvokeModel body (`anthropic_version`, no `model`). */
function anthropicAnswer(body: any): any {
  const converse = {
    messages: (body.messages ?? []).map((m: any) => ({
      role: m.role,
      content:
        typeof m.content === 'string'
          ? [{ text: m.content }]
          : m.content.map((b: any) =>
              b.type === 'text'
                ? { text: b.text }
                : b.type === 'tool_result'
                  ? {
                      toolResult: {
                        content: [
                          { text: typeof b.content === 'string' ? b.content : JSON.stringify(b.content) },
                        ],
                      },
                    }
                  : {},
            ),
    })),
    toolConfig: body.tools?.length
      ? { tools: body.tools.map((t: any) => ({ toolSpec: { name: t.name } })) }
      : undefined,
  }
  const { blocks, stopReason, usage } = answerConverse(converse)
  return {
    id: 'msg_bdrk_fake01',
    type: 'message',
    role: 'assistant',
    model: 'claude-on-bedrock',
    content: blocks.map((b) =>
      b.toolUse
        ? { type: 'tool_use', id: b.toolUse.toolUseId, name: b.toolUse.name, input: b.toolUse.input }
        : { type: 'text', text: b.text },
    ),
    stop_reason: stopReason,
    stop_sequence: null,
    usage: { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens },
  }
}

function fakeVector(text: string): number[] {
  return Array.from({ length: 4 }, (_, i) => ((text.charCodeAt(i % Math.max(1, text.length)) || 1) % 97) / 97)
}

async function handle(ctx: FakeContext, credentials: FakeBedrockCredentials[]): Promise<void> {
  const { req, res, body } = ctx
  const raw = typeof body === 'string' ? body : JSON.stringify(body)
  const m = /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/.exec(
    (req.url ?? '').split('?')[0],
  )
  if (req.method !== 'POST' || !m) return awsError(res, 404, 'UnknownOperationException', 'unknown operation')
  // The harness has parsed JSON bodies; both our adapter and the AWS SDK send JSON.stringify's output.
  const authError = await verifySignature(ctx, credentials, raw)
  if (authError) {
    const message =
      authError === 'InvalidSignatureException'
        ? 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.'
        : 'The security token included in the request is invalid.'
    return awsError(res, 403, authError, message)
  }
  const modelId = decodeURIComponent(m[1])
  const op = m[2]
  if (modelId.includes('throttled'))
    return awsError(res, 429, 'ThrottlingException', 'Too many requests, please wait before trying again.')
  if (op === 'converse' || op === 'converse-stream') {
    const invalid = validateConverse(body, modelId)
    if (invalid) return awsError(res, 400, 'ValidationException', invalid)
    if (op === 'converse-stream') return streamConverse(ctx, body)
    const answer = answerConverse(body)
    ctx.report(reported(answer))
    const { blocks, stopReason, usage } = answer
    res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'fake-request-id' })
    res.end(
      JSON.stringify({
        output: { message: { role: 'assistant', content: blocks } },
        stopReason,
        usage,
        metrics: { latencyMs: 12 },
      }),
    )
    return
  }
  if (modelId.includes('titan-embed')) {
    if (typeof body?.inputText !== 'string')
      return awsError(res, 400, 'ValidationException', 'inputText is required')
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        embedding: fakeVector(body.inputText),
        inputTextTokenCount: countTokens(body.inputText),
      }),
    )
    return
  }
  if (modelId.includes('cohere.embed')) {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        id: 'emb-1',
        texts: body.texts,
        embeddings: body.texts.map(fakeVector),
        response_type: 'embeddings_floats',
      }),
    )
    return
  }
  if (modelId.includes('anthropic.')) {
    if (body?.anthropic_version !== 'bedrock-2023-05-31')
      return awsError(res, 400, 'ValidationException', 'anthropic_version must be bedrock-2023-05-31')
    if ('model' in body)
      return awsError(res, 400, 'ValidationException', 'extraneous key [model] is not permitted')
    const message = anthropicAnswer(body)
    if (op === 'invoke') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(message))
      return
    }
    const send = writeEvents(res)
    const chunk = (event: unknown) =>
      send('chunk', { bytes: Buffer.from(JSON.stringify(event)).toString('base64') })
    chunk({
      type: 'message_start',
      message: {
        ...message,
        content: [],
        stop_reason: null,
        usage: { input_tokens: message.usage.input_tokens, output_tokens: 1 },
      },
    })
    message.content.forEach((b: any, index: number) => {
      if (b.type === 'text') {
        chunk({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } })
        for (const piece of pieces(b.text))
          chunk({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } })
      } else {
        chunk({ type: 'content_block_start', index, content_block: { ...b, input: {} } })
        chunk({
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: JSON.stringify(b.input) },
        })
      }
      chunk({ type: 'content_block_stop', index })
    })
    chunk({
      type: 'message_delta',
      delta: { stop_reason: message.stop_reason, stop_sequence: null },
      usage: { output_tokens: message.usage.output_tokens },
    })
    chunk({
      type: 'message_stop',
      'amazon-bedrock-invocationMetrics': {
        inputTokenCount: message.usage.input_tokens,
        outputTokenCount: message.usage.output_tokens,
      },
    })
    res.end()
    return
  }
  return awsError(res, 400, 'ValidationException', `The provided model identifier is invalid: ${modelId}`)
}
