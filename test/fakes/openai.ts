import { countTokens, FakeServer, lastText, pieces, SseWriter, type FakeContext } from './server.js'

/**
 * A fake OpenAI API that speaks the published wire format: chat completions (plain and SSE, with
 * parallel tool calls whose arguments arrive in many pieces), legacy completions, embeddings, the
 * Responses API and models. Replies are derived from the request so tests can check what went
 * through: the answer to "hi" is "Echo: hi".
 *
 * Triggers: a request with `tools` whose last message is from the user answers with one call per
 * tool (up to two, in parallel); their arguments are `{city, unit}`, or `{message: "hello"}` for a
 * tool whose parameters have a `message` property (`"again"` when the user's prompt says "again").
 * After tool results, the answer is "Tool said: …", or the same tool calls again when tools are
 * still offered and the last result contains "again" (a model that never stops calling tools).
 * An API key `sk-bad` answers 401. A prompt containing "cached" reports 8 cached prompt tokens.
 */
export async function startFakeOpenAI(port = 0): Promise<FakeServer> {
  return new FakeServer(handle).start(port)
}

let seq = 0
const id = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(++seq).toString(36)}`

/** The fake's answer to one request, for fakes that wrap it (per-key faults, latency). */
export function handle(ctx: FakeContext): void {
  const { req, res, path, body } = ctx
  const auth = req.headers.authorization ?? ''
  if (auth === 'Bearer sk-bad') {
    return json(res, 401, {
      error: {
        message: 'Incorrect API key provided: sk-bad.',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    })
  }
  const route = path.split('?')[0]
  if (req.method === 'GET' && route.endsWith('/models')) {
    return json(res, 200, {
      object: 'list',
      data: ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small'].map((m) => ({
        id: m,
        object: 'model',
        created: 1700000000,
        owned_by: 'openai',
      })),
    })
  }
  if (req.method !== 'POST')
    return json(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } })
  if (!body || typeof body !== 'object' || typeof body.model !== 'string') {
    return json(res, 400, {
      error: {
        message: 'you must provide a model parameter',
        type: 'invalid_request_error',
        param: 'model',
        code: null,
      },
    })
  }
  if (route.endsWith('/chat/completions')) return chat(ctx)
  if (route.endsWith('/completions')) return completion(ctx)
  if (route.endsWith('/embeddings')) return embeddings(ctx)
  if (route.endsWith('/responses')) return responses(ctx)
  json(res, 404, { error: { message: `unknown route ${route}`, type: 'invalid_request_error' } })
}

function json(res: FakeContext['res'], status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': id('req') })
  res.end(JSON.stringify(value))
}

interface PlannedCall {
  id: string
  name: string
  arguments: string
}

/** What the fake will answer: text, or tool calls. */
function plan(
  messages: any[],
  tools: any[] | undefined,
): { text: string; calls: PlannedCall[]; promptText: string } {
  const promptText = messages.map((m) => lastText(m.content)).join('\n')
  const last = messages[messages.length - 1]
  const callAgain =
    last?.role === 'tool' && lastText(messages.findLast((m) => m.role === 'tool')?.content).includes('again')
  if (tools?.length && (last?.role === 'user' || callAgain)) {
    const userText = lastText(messages.findLast((m) => m.role === 'user')?.content)
    const calls = tools.slice(0, 2).map((t: any, i: number) => ({
      id: `call_${i}_${seq++}`,
      name: t.function?.name ?? t.name,
      arguments: JSON.stringify(
        (t.function?.parameters ?? t.parameters)?.properties?.message
          ? { message: userText.includes('again') ? 'again' : 'hello' }
          : { city: i === 0 ? 'Paris' : 'Tokyo', unit: 'celsius' },
      ),
    }))
    return { text: '', calls, promptText }
  }
  if (last?.role === 'tool') {
    const results = messages.filter((m) => m.role === 'tool').map((m) => lastText(m.content))
    return { text: `Tool said: ${results.join(' | ')}`, calls: [], promptText }
  }
  return { text: `Echo: ${lastText(last?.content)}`, calls: [], promptText }
}

function usageFor(model: string, promptText: string, completion: string) {
  const prompt = countTokens(promptText)
  const out = countTokens(completion)
  const reasoning = /^(o\d|gpt-5)/.test(model) ? 16 : 0
  return {
    prompt_tokens: prompt,
    completion_tokens: out + reasoning,
    total_tokens: prompt + out + reasoning,
    prompt_tokens_details: {
      cached_tokens: promptText.includes('cached') ? Math.min(8, prompt) : 0,
      audio_tokens: 0,
    },
    completion_tokens_details: {
      reasoning_tokens: reasoning,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  }
}

function chat({ res, body, streamFault, report }: FakeContext): void {
  const p = plan(body.messages ?? [], body.tools)
  const completionText = p.text + p.calls.map((c) => c.name + c.arguments).join('')
  const usage = usageFor(body.model, p.promptText, completionText)
  report({
    text: p.text,
    thinking: '',
    toolCalls: p.calls.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) })),
    usage: { input: usage.prompt_tokens, output: usage.completion_tokens },
  })
  const finish = p.calls.length ? 'tool_calls' : 'stop'
  const created = Math.floor(Date.now() / 1000)
  const cid = id('chatcmpl')
  if (!body.stream) {
    return json(res, 200, {
      id: cid,
      object: 'chat.completion',
      created,
      model: body.model,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: p.calls.length ? null : p.text,
            refusal: null,
            ...(p.calls.length && {
              tool_calls: p.calls.map((c) => ({
                id: c.id,
                type: 'function',
                function: { name: c.name, arguments: c.arguments },
              })),
            }),
          },
          logprobs: null,
          finish_reason: finish,
        },
      ],
      usage,
      system_fingerprint: 'fp_fake',
    })
  }
  const withUsage = body.stream_options?.include_usage === true
  const sse = new SseWriter(res, streamFault)
  const frame = (choices: any[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      id: cid,
      object: 'chat.completion.chunk',
      created,
      model: body.model,
      system_fingerprint: 'fp_fake',
      choices,
      ...(withUsage && { usage: null }),
      ...extra,
    })
  const frames: string[] = []
  frames.push(
    frame([
      {
        index: 0,
        delta: { role: 'assistant', content: p.calls.length ? null : '', refusal: null },
        logprobs: null,
        finish_reason: null,
      },
    ]),
  )
  for (const piece of p.text ? pieces(p.text) : []) {
    frames.push(frame([{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }]))
  }
  p.calls.forEach((c, i) => {
    frames.push(
      frame([
        {
          index: 0,
          delta: {
            tool_calls: [{ index: i, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }],
          },
          logprobs: null,
          finish_reason: null,
        },
      ]),
    )
    for (let k = 0; k < c.arguments.length; k += 5) {
      frames.push(
        frame([
          {
            index: 0,
            delta: { tool_calls: [{ index: i, function: { arguments: c.arguments.slice(k, k + 5) } }] },
            logprobs: null,
            finish_reason: null,
          },
        ]),
      )
    }
  })
  frames.push(frame([{ index: 0, delta: {}, logprobs: null, finish_reason: finish }]))
  if (withUsage)
    frames.push(
      JSON.stringify({
        id: cid,
        object: 'chat.completion.chunk',
        created,
        model: body.model,
        system_fingerprint: 'fp_fake',
        choices: [],
        usage,
      }),
    )
  for (const f of frames) if (!sse.send(f)) return
  if (sse.send('[DONE]')) sse.end()
}

function completion({ res, body, streamFault }: FakeContext): void {
  const prompt = Array.isArray(body.prompt) ? body.prompt.join('\n') : String(body.prompt ?? '')
  const text = ` completed: ${prompt}`
  const usage = usageFor(body.model, prompt, text)
  const cid = id('cmpl')
  const created = Math.floor(Date.now() / 1000)
  if (!body.stream) {
    return json(res, 200, {
      id: cid,
      object: 'text_completion',
      created,
      model: body.model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: 'stop' }],
      usage,
    })
  }
  const sse = new SseWriter(res, streamFault)
  const withUsage = body.stream_options?.include_usage === true
  for (const piece of pieces(text)) {
    if (
      !sse.send(
        JSON.stringify({
          id: cid,
          object: 'text_completion',
          created,
          model: body.model,
          choices: [{ index: 0, text: piece, logprobs: null, finish_reason: null }],
          ...(withUsage && { usage: null }),
        }),
      )
    )
      return
  }
  if (
    !sse.send(
      JSON.stringify({
        id: cid,
        object: 'text_completion',
        created,
        model: body.model,
        choices: [{ index: 0, text: '', logprobs: null, finish_reason: 'stop' }],
        ...(withUsage && { usage: null }),
      }),
    )
  )
    return
  if (
    withUsage &&
    !sse.send(
      JSON.stringify({ id: cid, object: 'text_completion', created, model: body.model, choices: [], usage }),
    )
  )
    return
  if (sse.send('[DONE]')) sse.end()
}

/** A deterministic vector for a text, so tests can compare. */
export function fakeVector(text: string, dims = 8): number[] {
  const v: number[] = []
  for (let i = 0; i < dims; i++) {
    let h = 0
    for (let k = 0; k < text.length; k++) h = (h * 31 + text.charCodeAt(k) * (i + 1)) % 1000
    v.push(h / 1000)
  }
  return v
}

function embeddings({ res, body }: FakeContext): void {
  const inputs: string[] =
    typeof body.input === 'string'
      ? [body.input]
      : body.input.map((x: unknown) => (typeof x === 'string' ? x : JSON.stringify(x)))
  const dims = body.dimensions ?? 8
  const data = inputs.map((text, index) => {
    const vec = fakeVector(text, dims)
    const embedding =
      body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vec).buffer).toString('base64') : vec
    return { object: 'embedding', index, embedding }
  })
  const tokens = inputs.reduce((n, t) => n + countTokens(t), 0)
  json(res, 200, {
    object: 'list',
    data,
    model: body.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  })
}

function responses({ res, body, streamFault, report }: FakeContext): void {
  const input = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : (body.input ?? [])
  const messages = input
    .filter((i: any) => i.type === undefined || i.type === 'message' || i.type === 'function_call_output')
    .map((i: any) =>
      i.type === 'function_call_output'
        ? { role: 'tool', content: i.output }
        : {
            role: i.role,
            content: Array.isArray(i.content) ? i.content.map((c: any) => ({ text: c.text })) : i.content,
          },
    )
  const p = plan(
    messages,
    body.tools?.map((t: any) => ({ name: t.name, parameters: t.parameters })),
  )
  const usage0 = usageFor(
    body.model,
    (body.instructions ?? '') + p.promptText,
    p.text + p.calls.map((c) => c.arguments).join(''),
  )
  const usage = {
    input_tokens: usage0.prompt_tokens,
    input_tokens_details: { cached_tokens: usage0.prompt_tokens_details.cached_tokens },
    output_tokens: usage0.completion_tokens,
    output_tokens_details: { reasoning_tokens: usage0.completion_tokens_details.reasoning_tokens },
    total_tokens: usage0.total_tokens,
  }
  report({
    text: p.text,
    thinking: '',
    toolCalls: p.calls.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) })),
    usage: { input: usage.input_tokens, output: usage.output_tokens },
  })
  const rid = id('resp')
  const created_at = Math.floor(Date.now() / 1000)
  const msgId = id('msg')
  const output: any[] = p.calls.length
    ? p.calls.map((c) => ({
        type: 'function_call',
        id: id('fc'),
        call_id: c.id,
        name: c.name,
        arguments: c.arguments,
        status: 'completed',
      }))
    : [
        {
          type: 'message',
          id: msgId,
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: p.text, annotations: [] }],
        },
      ]
  const response = (status: string, out: any[], u: any) => ({
    id: rid,
    object: 'response',
    created_at,
    status,
    model: body.model,
    output: out,
    usage: u,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    tools: body.tools ?? [],
    parallel_tool_calls: true,
    temperature: body.temperature ?? 1,
    top_p: 1,
  })
  if (!body.stream) return json(res, 200, response('completed', output, usage))
  const sse = new SseWriter(res, streamFault)
  let n = 0
  const send = (event: any) => sse.send(JSON.stringify({ ...event, sequence_number: n++ }), event.type)
  if (!send({ type: 'response.created', response: response('in_progress', [], null) })) return
  if (!send({ type: 'response.in_progress', response: response('in_progress', [], null) })) return
  let ok = true
  output.forEach((item, oi) => {
    if (!ok) return
    if (item.type === 'message') {
      ok &&= send({
        type: 'response.output_item.added',
        output_index: oi,
        item: { ...item, status: 'in_progress', content: [] },
      })
      ok &&= send({
        type: 'response.content_part.added',
        item_id: item.id,
        output_index: oi,
        content_index: 0,
        part: { type: 'output_text', text: '', annotations: [] },
      })
      for (const piece of pieces(p.text))
        ok &&= send({
          type: 'response.output_text.delta',
          item_id: item.id,
          output_index: oi,
          content_index: 0,
          delta: piece,
        })
      ok &&= send({
        type: 'response.output_text.done',
        item_id: item.id,
        output_index: oi,
        content_index: 0,
        text: p.text,
      })
      ok &&= send({
        type: 'response.content_part.done',
        item_id: item.id,
        output_index: oi,
        content_index: 0,
        part: item.content[0],
      })
    } else {
      ok &&= send({
        type: 'response.output_item.added',
        output_index: oi,
        item: { ...item, arguments: '', status: 'in_progress' },
      })
      for (let k = 0; k < item.arguments.length; k += 5)
        ok &&= send({
          type: 'response.function_call_arguments.delta',
          item_id: item.id,
          output_index: oi,
          delta: item.arguments.slice(k, k + 5),
        })
      ok &&= send({
        type: 'response.function_call_arguments.done',
        item_id: item.id,
        output_index: oi,
        arguments: item.arguments,
      })
    }
    ok &&= send({ type: 'response.output_item.done', output_index: oi, item })
  })
  if (!ok) return
  if (send({ type: 'response.completed', response: response('completed', output, usage) })) sse.end()
}
