import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, readSse, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { everythingClient, waitForTool } from './helpers/mcp.js'

/** An attribute value as OTLP/JSON encodes it. */
interface AnyValue {
  stringValue?: string
  intValue?: number | string
  doubleValue?: number
  boolValue?: boolean
  arrayValue?: { values?: AnyValue[] }
}
interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  startTimeUnixNano: string
  endTimeUnixNano: string
  attributes?: { key: string; value: AnyValue }[]
  status?: { code?: number; message?: string }
}
interface ReceivedSpan extends Omit<OtlpSpan, 'attributes'> {
  attributes: Record<string, unknown>
  resource: Record<string, unknown>
}

function valueOf(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue
  if (v.intValue !== undefined) return Number(v.intValue)
  if (v.doubleValue !== undefined) return v.doubleValue
  if (v.boolValue !== undefined) return v.boolValue
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(valueOf)
  return undefined
}
const attrs = (list: { key: string; value: AnyValue }[] = []) =>
  Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]))

/** A collector on loopback that takes OTLP/HTTP JSON exports, as a real one would. */
async function startCollector(): Promise<{
  url: string
  spans: ReceivedSpan[]
  paths: string[]
  tokens: (string | undefined)[]
  server: Server
}> {
  const spans: ReceivedSpan[] = []
  const paths: string[] = []
  const tokens: (string | undefined)[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      paths.push(req.url ?? '')
      tokens.push(req.headers['x-collector-token'] as string | undefined)
      expect(req.headers['content-type']).toContain('application/json')
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: {
          resource?: { attributes?: { key: string; value: AnyValue }[] }
          scopeSpans: { spans: OtlpSpan[] }[]
        }[]
      }
      for (const rs of body.resourceSpans) {
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            spans.push({ ...s, attributes: attrs(s.attributes), resource: attrs(rs.resource?.attributes) })
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, paths, tokens, server }
}

const SERVER = 2
const CLIENT = 3
const ERROR = 2

describe('OpenTelemetry traces', () => {
  let collector: Awaited<ReturnType<typeof startCollector>>
  let primary: FakeServer
  let backup: FakeServer
  let gw: RunningHeimdall

  beforeAll(async () => {
    collector = await startCollector()
    primary = await startFakeOpenAI()
    backup = await startFakeOpenAI()
    gw = await startHeimdall(
      {
        providers: {
          openai: fakeProvider(primary.url, { network_config: { max_retries: 0 } }),
          groq: fakeProvider(backup.url),
        },
        plugins: [
          {
            enabled: true,
            name: 'otel',
            config: {
              collector_url: collector.url,
              trace_type: 'genai_extension',
              protocol: 'http',
              headers: { 'x-collector-token': 'env.COLLECTOR_TOKEN' },
            },
          },
        ],
        mcp: {
          client_configs: [everythingClient({ tools_to_auto_execute: ['echo'] })],
        },
      },
      {
        env: {
          OTEL_BSP_SCHEDULE_DELAY: '20',
          OTEL_SERVICE_NAME: 'gateway-under-test',
          COLLECTOR_TOKEN: 't0k',
        },
      },
    )
  }, 30_000)
  afterAll(async () => {
    await gw?.close()
    await primary?.close()
    await backup?.close()
    await new Promise((r) => collector.server.close(r))
  })
  beforeEach(() => {
    primary.reset()
    backup.reset()
  })

  /** The spans of the request with this id: its request span and its children, once exported. */
  async function spansOf(
    requestId: string,
    expected: number,
  ): Promise<{ root: ReceivedSpan; children: ReceivedSpan[] }> {
    for (let i = 0; i < 200; i++) {
      const root = collector.spans.find((s) => s.attributes['heimdall.request_id'] === requestId)
      const children = root ? collector.spans.filter((s) => s.parentSpanId === root.spanId) : []
      if (root && children.length >= expected) return { root, children }
      await sleep(20)
    }
    throw new Error(`no spans for ${requestId}`)
  }

  const chat = (requestId: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...headers },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'how are you' }], ...body }),
    })

  it('exports a request span with its attempt, continuing the caller’s traceparent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const callerSpan = '00f067aa0ba902b7'
    const res = await chat(
      'trace-plain',
      { model: 'openai/gpt-4o-mini', temperature: 0.2, max_tokens: 50 },
      { traceparent: `00-${traceId}-${callerSpan}-01` },
    )
    expect(res.status).toBe(200)
    const body = (await res.json()) as {
      id: string
      model: string
      choices: { finish_reason: string }[]
      usage: { prompt_tokens: number; completion_tokens: number }
    }
    const { root, children } = await spansOf('trace-plain', 1)

    expect(root.traceId).toBe(traceId)
    expect(root.parentSpanId).toBe(callerSpan)
    expect(root.name).toBe('chat gpt-4o-mini')
    expect(root.kind).toBe(SERVER)
    expect(root.resource['service.name']).toBe('gateway-under-test')
    expect(root.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': body.model,
      'gen_ai.response.id': body.id,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.max_tokens': 50,
      'gen_ai.usage.input_tokens': body.usage.prompt_tokens,
      'gen_ai.usage.output_tokens': body.usage.completion_tokens,
      // (MCP tools offered once the stdio server is up make the fake answer with a tool call.)
      'gen_ai.response.finish_reasons': [body.choices[0].finish_reason],
      'http.route': '/v1/chat/completions',
      'heimdall.stream': false,
    })
    expect(root.status?.code ?? 0).not.toBe(ERROR)

    expect(children).toHaveLength(1)
    const [attempt] = children
    expect(attempt.traceId).toBe(traceId)
    expect(attempt.name).toBe('chat gpt-4o-mini')
    expect(attempt.kind).toBe(CLIENT)
    expect(attempt.attributes).toMatchObject({
      'gen_ai.provider.name': 'openai',
      'heimdall.fallback_index': 0,
    })
    // The attempt lies within the request.
    expect(BigInt(attempt.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(root.startTimeUnixNano))
    expect(BigInt(attempt.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(root.endTimeUnixNano))
    expect(BigInt(attempt.endTimeUnixNano)).toBeGreaterThan(BigInt(attempt.startTimeUnixNano))
    // Exported to the configured endpoint, with the bare origin completed.
    expect(collector.paths).toContain('/v1/traces')
    expect(collector.tokens).toContain('t0k')
  })

  it('carries the token usage of a streamed request', async () => {
    const res = await chat('trace-stream', {
      model: 'openai/gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
    })
    const frames = await readSse(res)
    const usage = frames
      .filter((f) => f.data !== '[DONE]')
      .map((f) => JSON.parse(f.data) as { usage?: { prompt_tokens: number; completion_tokens: number } })
      .find((c) => c.usage)!.usage!
    const { root, children } = await spansOf('trace-stream', 1)
    expect(root.parentSpanId ?? '').toBe('')
    expect(root.attributes).toMatchObject({
      'heimdall.stream': true,
      'gen_ai.usage.input_tokens': usage.prompt_tokens,
      'gen_ai.usage.output_tokens': usage.completion_tokens,
    })
    expect(root.attributes['heimdall.time_to_first_token_ms']).toBeGreaterThan(0)
    expect(children).toHaveLength(1)
    expect(children[0].traceId).toBe(root.traceId)
  })

  it('shows a fallback as two attempt spans, the failed one marked', async () => {
    primary.fail({ kind: 'status', status: 500 })
    const res = await chat('trace-fallback', {
      model: 'openai/gpt-4o-mini',
      fallbacks: ['groq/llama-3.1-8b-instant'],
    })
    expect(res.status).toBe(200)
    const { root, children } = await spansOf('trace-fallback', 2)
    expect(root.attributes).toMatchObject({
      'gen_ai.provider.name': 'groq',
      'heimdall.fallback_index': 1,
      'heimdall.attempts': 2,
    })
    const sorted = [...children].sort((a, b) =>
      BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1,
    )
    expect(sorted.map((s) => s.attributes['gen_ai.provider.name'])).toEqual(['openai', 'groq'])
    expect(sorted[0].status?.code).toBe(ERROR)
    expect(sorted[0].attributes['http.response.status_code']).toBe(500)
    expect(sorted[0].attributes['error.type']).toBeDefined()
    expect(sorted[1].status?.code ?? 0).not.toBe(ERROR)
    expect(sorted[1].name).toBe('chat llama-3.1-8b-instant')
    expect(BigInt(sorted[1].startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(sorted[0].endTimeUnixNano))
  })

  it('marks a failed request with its error type', async () => {
    primary.fail({
      kind: 'status',
      status: 400,
      body: JSON.stringify({
        error: { message: 'bad value', type: 'invalid_request_error', param: null, code: null },
      }),
    })
    expect((await chat('trace-error', { model: 'openai/gpt-4o-mini' })).status).toBe(400)
    const { root, children } = await spansOf('trace-error', 1)
    expect(root.status?.code).toBe(ERROR)
    expect(root.attributes['error.type']).toBe('upstream_error')
    expect(root.attributes['gen_ai.usage.input_tokens']).toBeUndefined()
    expect(children[0].status?.code).toBe(ERROR)
  })

  it('traces an agent round’s MCP tool call between the two model calls', async () => {
    await waitForTool(gw, 'everything-echo')
    const created = await fetch(`${gw.url}/api/governance/virtual-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'agent',
        provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
        mcp_configs: [{ mcp_client_name: 'everything', tools_to_execute: ['echo'] }],
      }),
    })
    const vk = ((await created.json()) as { virtual_key: { value: string } }).virtual_key.value
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-request-id': 'trace-agent',
        authorization: `Bearer ${vk}`,
      },
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'say hello' }],
      }),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-bifrost-mcp-agent-rounds')).toBe('1')

    // Both rounds carry the request id; the second is a child of the first, with the tool call in it.
    let rounds: ReceivedSpan[] = []
    for (let i = 0; i < 200 && rounds.length < 2; i++) {
      rounds = collector.spans.filter((s) => s.attributes['heimdall.request_id'] === 'trace-agent')
      if (rounds.length < 2) await sleep(20)
    }
    expect(rounds).toHaveLength(2)
    const first = rounds.find((s) => !s.parentSpanId)!
    const second = rounds.find((s) => s.parentSpanId === first.spanId)!
    expect(second.traceId).toBe(first.traceId)
    let tool: ReceivedSpan | undefined
    for (let i = 0; i < 100 && !tool; i++) {
      tool = collector.spans.find(
        (s) => s.parentSpanId === second.spanId && s.name.startsWith('execute_tool'),
      )
      if (!tool) await sleep(20)
    }
    expect(tool?.name).toBe('execute_tool echo')
    expect(tool?.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'echo',
      'heimdall.mcp.client': 'everything',
    })
    expect(typeof tool?.attributes['gen_ai.tool.call.id']).toBe('string')
    // The tool ran after the first model call and before the second one.
    const secondAttempt = collector.spans.find((s) => s.parentSpanId === second.spanId && s.kind === CLIENT)!
    expect(BigInt(tool!.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(first.endTimeUnixNano))
    expect(BigInt(tool!.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(secondAttempt.startTimeUnixNano))
  })

  it('traces a tool call of POST /v1/mcp/tool/execute as a span of its own, in the caller’s trace', async () => {
    const created = await fetch(`${gw.url}/api/governance/virtual-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'executor',
        mcp_configs: [{ mcp_client_name: 'everything', tools_to_execute: ['echo'] }],
      }),
    })
    const vk = ((await created.json()) as { virtual_key: { id: string; value: string } }).virtual_key
    const traceId = '0af7651916cd43dd8448eb211c80319d'
    const parentId = 'c7ad6b7169203331'
    const execute = (args: string, callId: string) =>
      fetch(`${gw.url}/v1/mcp/tool/execute`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-bf-vk': vk.value,
          traceparent: `00-${traceId}-${parentId}-01`,
        },
        body: JSON.stringify({
          id: callId,
          type: 'function',
          function: { name: 'everything-echo', arguments: args },
        }),
      })
    expect((await execute('{"message":"traced"}', 'call_traced')).status).toBe(200)
    // A call the MCP server refuses (missing argument): the span says so.
    expect((await execute('{}', 'call_refused')).status).toBe(200)

    const find = (id: string) => collector.spans.find((s) => s.attributes['gen_ai.tool.call.id'] === id)
    for (let i = 0; i < 200 && !(find('call_traced') && find('call_refused')); i++) await sleep(20)
    const ok = find('call_traced')
    expect(ok).toMatchObject({ name: 'execute_tool echo', kind: SERVER, traceId, parentSpanId: parentId })
    expect(ok?.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'echo',
      'heimdall.mcp.client': 'everything',
      'heimdall.virtual_key.id': vk.id,
    })
    expect(ok?.status?.code ?? 0).not.toBe(ERROR)
    expect(BigInt(ok!.endTimeUnixNano)).toBeGreaterThan(BigInt(ok!.startTimeUnixNano))
    expect(find('call_refused')?.status?.code).toBe(ERROR)
  })
})

describe('OpenTelemetry traces configured by the standard environment variables', () => {
  it('exports to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces under OTEL_SERVICE_NAME', async () => {
    const collector = await startCollector()
    const fake = await startFakeOpenAI()
    const gw = await startHeimdall(
      { providers: { openai: fakeProvider(fake.url) } },
      {
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `${collector.url}/otlp`,
          OTEL_SERVICE_NAME: 'from-env',
          OTEL_BSP_SCHEDULE_DELAY: '20',
        },
      },
    )
    try {
      const res = await fetch(`${gw.url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'env-embed' },
        body: JSON.stringify({ model: 'openai/text-embedding-3-small', input: 'hi' }),
      })
      expect(res.status).toBe(200)
      let span: ReceivedSpan | undefined
      for (let i = 0; i < 200 && !span; i++) {
        span = collector.spans.find((s) => s.attributes['heimdall.request_id'] === 'env-embed')
        if (!span) await sleep(20)
      }
      expect(span?.name).toBe('embeddings text-embedding-3-small')
      expect(span?.attributes['gen_ai.operation.name']).toBe('embeddings')
      expect(span?.resource['service.name']).toBe('from-env')
      expect(collector.paths).toContain('/otlp/v1/traces')
    } finally {
      await gw.close()
      await fake.close()
      await new Promise((r) => collector.server.close(r))
    }
  })
})
