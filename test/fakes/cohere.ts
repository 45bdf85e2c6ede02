import { countTokens, FakeServer, lastText, pieces, SseWriter, type FakeContext } from './server.js'
import { fakeVector } from './openai.js'
import { sampleOf } from './json-schema-sample.js'

/**
 * A fake Cohere v2 API (`/v2/chat` plain and SSE, `/v2/embed`, `/v2/rerank`, `/v1/tokenize`, `/v1/models`) in
 * Cohere's wire format: `Authorization: Bearer` is checked (only `co-good` passes, else 401
 * `{id, message}`), the stream is `event: <type>` + `data: {...}` frames from `message-start` to
 * `message-end`. The answer to "hi" is "Echo: hi"; with tools offered and a user turn last, it
 * plans and calls up to two tools in parallel (`{"city":"Paris"}`, `{"city":"Tokyo"}`), their
 * arguments streamed in pieces; after tool results it answers "Tool said: …". With
 * `thinking: {type: 'enabled'}` a `thinking` content block comes first. `response_format`
 * `{type: 'json_object'}` answers JSON text, fitting its `json_schema` when given. Rerank scores a document by the words it shares with
 * the query.
 */
export async function startFakeCohere(port = 0): Promise<FakeServer> {
  return new FakeServer(handle).start(port)
}

let seq = 0
const uid = () => `${Date.now().toString(16)}-${(++seq).toString(16).padStart(4, '0')}-fake`

function json(res: FakeContext['res'], status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': uid() })
  res.end(JSON.stringify(value))
}

function handle(ctx: FakeContext): void {
  const { req, res, path, body } = ctx
  if (req.headers.authorization !== 'Bearer co-good') {
    return json(res, 401, { id: uid(), message: 'invalid api token' })
  }
  const route = path.split('?')[0]
  if (req.method === 'GET' && route === '/v1/models') {
    return json(res, 200, {
      models: ['command-a-03-2025', 'embed-v4.0', 'rerank-v3.5'].map((name) => ({
        name,
        endpoints: ['chat'],
      })),
    })
  }
  if (!body || typeof body !== 'object' || typeof body.model !== 'string') {
    return json(res, 400, { id: uid(), message: 'invalid request: model must be provided' })
  }
  if (route === '/v2/chat') return chat(ctx)
  if (route === '/v2/embed') return embed(ctx)
  if (route === '/v2/rerank') return rerank(ctx)
  if (route === '/v1/tokenize') return tokenize(ctx)
  json(res, 404, { id: uid(), message: `unknown route ${route}` })
}

function chat({ res, body, streamFault, report }: FakeContext): void {
  const messages: any[] = body.messages ?? []
  const last = messages[messages.length - 1]
  const promptText = messages.map((m) => lastText(m.content)).join('\n')
  let text = ''
  let plan = ''
  let calls: { id: string; name: string; arguments: string }[] = []
  // Reasoning models think in a `thinking` content block before the answer or the tool calls.
  const thinking =
    body.thinking?.type === 'enabled'
      ? `The user asked: ${lastText(last?.content) || 'for the results'}.`
      : ''
  if (body.tools?.length && last?.role === 'user') {
    const tools: any[] = body.tools.slice(0, 2)
    plan = `I will call ${tools.map((t) => t.function.name).join(' and ')}.`
    calls = tools.map((t, i) => ({
      id: `${t.function.name}_${uid()}`,
      name: t.function.name,
      arguments: JSON.stringify(i === 0 ? { city: 'Paris' } : { city: 'Tokyo' }),
    }))
  } else if (last?.role === 'tool') {
    text = `Tool said: ${messages
      .filter((m) => m.role === 'tool')
      .map((m) => lastText(m.content))
      .join(' | ')}`
  } else text = `Echo: ${lastText(last?.content)}`
  const format = body.response_format
  if (format != null && format.type !== 'json_object' && format.type !== 'text')
    return json(res, 400, { id: uid(), message: `invalid response_format type: ${format.type}` })
  if (format?.type === 'json_object' && !calls.length)
    text = JSON.stringify(format.json_schema ? sampleOf(format.json_schema, text) : { answer: text })
  const out = countTokens(thinking + text + plan + calls.map((c) => c.arguments).join(''))
  const input = countTokens(promptText)
  const usage = {
    billed_units: { input_tokens: input, output_tokens: out },
    tokens: { input_tokens: input + 10, output_tokens: out },
  }
  report({
    text: text || plan,
    thinking,
    toolCalls: calls.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) })),
    usage: { input: usage.tokens.input_tokens, output: usage.tokens.output_tokens },
  })
  const finish = calls.length ? 'TOOL_CALL' : 'COMPLETE'
  const id = uid()
  const content = [
    ...(thinking ? [{ type: 'thinking', thinking }] : []),
    ...(text ? [{ type: 'text', text }] : []),
  ]
  if (!body.stream) {
    return json(res, 200, {
      id,
      message: calls.length
        ? {
            role: 'assistant',
            ...(content.length && { content }),
            tool_plan: plan,
            tool_calls: calls.map((c) => ({
              id: c.id,
              type: 'function',
              function: { name: c.name, arguments: c.arguments },
            })),
          }
        : { role: 'assistant', content },
      finish_reason: finish,
      usage,
    })
  }
  const sse = new SseWriter(res, streamFault)
  const send = (ev: Record<string, unknown>) => sse.send(JSON.stringify(ev), ev.type as string)
  const events: Record<string, unknown>[] = [
    {
      type: 'message-start',
      id,
      delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } },
    },
  ]
  content.forEach((block, index) => {
    const kind = block.type as 'text' | 'thinking'
    events.push({ type: 'content-start', index, delta: { message: { content: { type: kind, [kind]: '' } } } })
    for (const p of pieces(block.type === 'text' ? (block.text ?? '') : (block.thinking ?? ''))) {
      events.push({ type: 'content-delta', index, delta: { message: { content: { [kind]: p } } } })
    }
    events.push({ type: 'content-end', index })
  })
  for (const p of plan ? pieces(plan) : [])
    events.push({ type: 'tool-plan-delta', delta: { message: { tool_plan: p } } })
  calls.forEach((call, index) => {
    events.push({
      type: 'tool-call-start',
      index,
      delta: {
        message: {
          tool_calls: { id: call.id, type: 'function', function: { name: call.name, arguments: '' } },
        },
      },
    })
    for (let k = 0; k < call.arguments.length; k += 4) {
      events.push({
        type: 'tool-call-delta',
        index,
        delta: { message: { tool_calls: { function: { arguments: call.arguments.slice(k, k + 4) } } } },
      })
    }
    events.push({ type: 'tool-call-end', index })
  })
  events.push({ type: 'message-end', delta: { finish_reason: finish, usage } })
  for (const ev of events) if (!send(ev)) return
  sse.end()
}

function embed({ res, body }: FakeContext): void {
  if (!body.input_type) {
    return json(res, 400, {
      id: uid(),
      message: 'invalid request: input_type is required for embed v3+ models',
    })
  }
  const texts: string[] = body.texts ?? []
  const dims = body.output_dimension ?? 8
  const types: string[] = body.embedding_types ?? ['float']
  const vectors = texts.map((t) => fakeVector(t, dims))
  const embeddings: Record<string, unknown> = {}
  for (const t of types) {
    embeddings[t] =
      t === 'base64'
        ? vectors.map((v) => Buffer.from(new Float32Array(v).buffer).toString('base64'))
        : vectors
  }
  json(res, 200, {
    id: uid(),
    embeddings,
    texts,
    meta: {
      api_version: { version: '2' },
      billed_units: { input_tokens: texts.reduce((n, t) => n + countTokens(t), 0) },
    },
    response_type: 'embeddings_by_type',
  })
}

function rerank({ res, body }: FakeContext): void {
  const words = new Set(String(body.query).toLowerCase().split(/\W+/).filter(Boolean))
  const docs: string[] = body.documents
  const scored = docs
    .map((d, index) => {
      const w = d.toLowerCase().split(/\W+/).filter(Boolean)
      const hits = w.filter((x) => words.has(x)).length
      return { index, relevance_score: Math.round((hits / Math.max(1, w.length)) * 1e6) / 1e6 }
    })
    .sort((a, b) => b.relevance_score - a.relevance_score)
  json(res, 200, {
    id: uid(),
    results: scored.slice(0, body.top_n ?? scored.length),
    meta: { api_version: { version: '2' }, billed_units: { search_units: 1 } },
  })
}

/** `/v1/tokenize`: one token per word or run of punctuation, its id the sum of its char codes. */
function tokenize({ res, body }: FakeContext): void {
  if (typeof body.text !== 'string' || body.text === '') {
    return json(res, 400, { id: uid(), message: 'invalid request: text must be a non-empty string' })
  }
  const strings: string[] = body.text.match(/\s*[\w]+|\s*[^\w\s]+/g) ?? []
  const tokens = strings.map((t) => [...t].reduce((n, c) => n + c.charCodeAt(0), 0))
  json(res, 200, { tokens, token_strings: strings, meta: { api_version: { version: '1' } } })
}
