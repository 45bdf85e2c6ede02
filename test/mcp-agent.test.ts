import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI from 'openai'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { everythingClient, waitForTool } from './helpers/mcp.js'

/**
 * Agent mode end to end, with server-everything over stdio whose `echo` is auto-executed: the
 * gateway runs the model's call to it, asks the model again with the result and answers the
 * caller with the final text, the rounds' usage summed; calls to other tools go back to the caller.
 */
describe('MCP agent mode for chat completions and the Responses API', () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  let echoKey: string
  let sumKey: string
  let onceKey: string
  let onceResponsesKey: string
  let loggedKey: { id: string; value: string }

  const api = (method: string, path: string, body?: unknown) => callJson(gw.url, method, path, body)

  const ask = (vk: string, prompt: string) =>
    new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: vk, maxRetries: 0 }).chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: prompt }] })
      .withResponse()

  /** gpt-4o-mini's list price for a chat usage. */
  const chatPrice = (u: { prompt_tokens: number; completion_tokens: number }) =>
    u.prompt_tokens * 0.15e-6 + u.completion_tokens * 0.6e-6

  /** The fake's usage for a request it received, asked again directly and unstreamed. */
  const usageOf = async (path: string, body: any) => {
    const { stream: _s, stream_options: _o, ...plain } = body
    const res = await fetch(`${fake.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
      body: JSON.stringify(plain),
    })
    return ((await res.json()) as any).usage
  }

  const firstCallName = (data: OpenAI.ChatCompletion) =>
    (data.choices[0].message.tool_calls?.[0] as { function?: { name?: string } } | undefined)?.function?.name

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      mcp: {
        client_configs: [everythingClient({ tools_to_auto_execute: ['echo'] })],
      },
    })
    await waitForTool(gw, 'everything-echo')
    const provider_configs = [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }]
    const key = async (name: string, tools: string[], extra: Record<string, unknown> = {}) =>
      (
        await api('POST', '/api/governance/virtual-keys', {
          name,
          provider_configs,
          mcp_configs: [{ mcp_client_name: 'everything', tools_to_execute: tools }],
          ...extra,
        })
      ).body.virtual_key as { id: string; value: string }
    echoKey = (await key('echo-only', ['echo'])).value
    sumKey = (await key('sum-only', ['get-sum'])).value
    // One request a minute: a second round is refused like a second request.
    onceKey = (
      await key('echo-once', ['echo'], {
        rate_limit: { request_max_limit: 1, request_reset_duration: '1m' },
      })
    ).value
    loggedKey = await key('echo-logged', ['echo'])
    onceResponsesKey = (
      await key('echo-once-responses', ['echo'], {
        rate_limit: { request_max_limit: 1, request_reset_duration: '1m' },
      })
    ).value
  }, 30_000)

  afterEach(() => {
    delete gw.heimdall.client.mcp_agent_depth
  })

  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })

  it('runs an auto-executed tool and answers with the model’s next reply, usage summed', async () => {
    fake.reset()
    const { data, response } = await ask(echoKey, 'say hello')
    expect(fake.requests).toHaveLength(2)
    const [first, second] = fake.requests.map((r) => r.body)
    expect(first.messages).toHaveLength(1)
    const [user, assistant, tool] = second.messages
    expect(user).toMatchObject({ role: 'user', content: 'say hello' })
    expect(assistant.role).toBe('assistant')
    expect(assistant.tool_calls).toHaveLength(1)
    expect(assistant.tool_calls[0].function).toEqual({
      name: 'everything-echo',
      arguments: '{"message":"hello"}',
    })
    expect(tool).toMatchObject({ role: 'tool', tool_call_id: assistant.tool_calls[0].id })
    expect(tool.content).toContain('Echo: hello')

    expect(data.choices[0].finish_reason).toBe('stop')
    expect(data.choices[0].message.content).toMatch(/^Tool said: .*Echo: hello/)
    expect(response.headers.get('x-bifrost-mcp-agent-rounds')).toBe('1')

    // The fake's usage is a function of the request: ask it both rounds again, directly.
    const [u1, u2] = [
      await usageOf('/v1/chat/completions', first),
      await usageOf('/v1/chat/completions', second),
    ]
    expect(u1.prompt_tokens).toBeGreaterThan(0)
    expect(data.usage).toMatchObject({
      prompt_tokens: u1.prompt_tokens + u2.prompt_tokens,
      completion_tokens: u1.completion_tokens + u2.completion_tokens,
      total_tokens: u1.total_tokens + u2.total_tokens,
    })

    // The cost header is both rounds' cost: gpt-4o-mini's list price for each round's usage.
    const cost = Number(response.headers.get('x-bifrost-cost-usd'))
    expect(cost).toBeCloseTo(chatPrice(u1) + chatPrice(u2), 10)
    expect(cost).toBeGreaterThan(chatPrice(u2))
  })

  it('returns a call to a tool that is not auto-executed to the caller', async () => {
    fake.reset()
    const { data, response } = await ask(sumKey, 'add')
    expect(fake.requests).toHaveLength(1)
    expect(data.choices[0].finish_reason).toBe('tool_calls')
    expect(firstCallName(data)).toBe('everything-get-sum')
    expect(response.headers.get('x-bifrost-mcp-agent-rounds')).toBeNull()
  })

  it('stops after mcp_agent_depth rounds and returns the model’s last answer as is', async () => {
    gw.heimdall.client.mcp_agent_depth = 2
    fake.reset()
    const { data, response } = await ask(echoKey, 'again and again')
    // The model asks for the tool every time: two rounds, so three model calls.
    expect(fake.requests).toHaveLength(3)
    expect(fake.requests[2].body.messages.filter((m: any) => m.role === 'tool')).toHaveLength(2)
    expect(response.headers.get('x-bifrost-mcp-agent-rounds')).toBe('2')
    expect(data.choices[0].finish_reason).toBe('tool_calls')
    expect(firstCallName(data)).toBe('everything-echo')

    gw.heimdall.client.mcp_agent_depth = 1
    fake.reset()
    const once = await ask(echoKey, 'again')
    expect(fake.requests).toHaveLength(2)
    expect(once.response.headers.get('x-bifrost-mcp-agent-rounds')).toBe('1')

    gw.heimdall.client.mcp_agent_depth = 0
    fake.reset()
    const off = await ask(echoKey, 'say hello')
    expect(fake.requests).toHaveLength(1)
    expect(firstCallName(off.data)).toBe('everything-echo')
  })

  /** A streamed chat completion read to its end through the SDK: every chunk, in order. */
  const askStream = async (vk: string, prompt: string) => {
    const stream = await new OpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey: vk,
      maxRetries: 0,
    }).chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: prompt }],
      stream: true,
      stream_options: { include_usage: true },
    })
    // The agent's own fields (mcp_agent_rounds ...) are not in the SDK's chunk type.
    const chunks: (OpenAI.ChatCompletionChunk & Record<string, unknown>)[] = []
    for await (const chunk of stream)
      chunks.push(chunk as OpenAI.ChatCompletionChunk & Record<string, unknown>)
    return chunks
  }
  const textOf = (chunks: OpenAI.ChatCompletionChunk[]) =>
    chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')
  const callNames = (chunks: OpenAI.ChatCompletionChunk[]) =>
    chunks.flatMap((c) => (c.choices[0]?.delta.tool_calls ?? []).flatMap((t) => t.function?.name ?? []))
  const finishOf = (chunks: OpenAI.ChatCompletionChunk[]) =>
    chunks.flatMap((c) => (c.choices[0]?.finish_reason ? [c.choices[0].finish_reason] : []))

  it('streams the answer after running an auto-executed tool, in one stream with every round’s usage', async () => {
    fake.reset()
    const chunks = await askStream(echoKey, 'say hello')
    expect(fake.requests).toHaveLength(2)
    const [first, second] = fake.requests.map((r) => r.body)
    const tool = second.messages.find((m: any) => m.role === 'tool')
    expect(tool.content).toContain('Echo: hello')
    // The first round's tool-call chunks and finish are not the caller's: only the answer is.
    expect(callNames(chunks)).toEqual([])
    expect(textOf(chunks)).toMatch(/^Tool said: .*Echo: hello/)
    expect(finishOf(chunks)).toEqual(['stop'])
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1)
    const finish = chunks.find((c) => c.choices[0]?.finish_reason)!
    expect(finish.mcp_agent_rounds).toBe(1)

    const [u1, u2] = [
      await usageOf('/v1/chat/completions', first),
      await usageOf('/v1/chat/completions', second),
    ]
    const last = chunks.at(-1)!
    expect(last.choices).toEqual([])
    expect(last.usage).toMatchObject({
      prompt_tokens: u1.prompt_tokens + u2.prompt_tokens,
      completion_tokens: u1.completion_tokens + u2.completion_tokens,
      total_tokens: u1.total_tokens + u2.total_tokens,
    })
    expect(finish.mcp_agent_cost_usd).toBeCloseTo(chatPrice(u1) + chatPrice(u2), 8)
  })

  it('logs and prices each round of a streamed agent as a request of its own', async () => {
    fake.reset()
    const chunks = await askStream(loggedKey.value, 'say hello')
    const streamedCost = chunks.find((c) => c.choices[0]?.finish_reason)!.mcp_agent_cost_usd as number
    let logs: any[] = []
    for (let i = 0; i < 200 && logs.length < 2; i++) {
      logs = (await api('GET', `/api/logs?virtual_key_ids=${loggedKey.id}`)).body.logs
      if (logs.length < 2) await sleep(25)
    }
    const ids = logs.map((l) => l.id).sort()
    expect(ids).toHaveLength(2)
    expect(ids[1]).toBe(`${ids[0]}-round-2`)
    expect(logs.every((l) => l.status === 'success' && l.stream === true)).toBe(true)
    expect(logs.reduce((sum, l) => sum + l.cost, 0)).toBeCloseTo(streamedCost, 8)
  })

  it('streams a call to a tool that is not auto-executed back to the caller', async () => {
    fake.reset()
    const chunks = await askStream(sumKey, 'add')
    expect(fake.requests).toHaveLength(1)
    expect(callNames(chunks)).toEqual(['everything-get-sum'])
    expect(finishOf(chunks)).toEqual(['tool_calls'])
    expect(chunks.some((c) => 'mcp_agent_rounds' in c)).toBe(false)
    expect(chunks.at(-1)!.usage?.total_tokens).toBeGreaterThan(0)
  })

  it('stops a streamed agent after mcp_agent_depth rounds and streams the last call as is', async () => {
    gw.heimdall.client.mcp_agent_depth = 2
    fake.reset()
    const chunks = await askStream(echoKey, 'again and again')
    expect(fake.requests).toHaveLength(3)
    expect(callNames(chunks)).toEqual(['everything-echo'])
    expect(finishOf(chunks)).toEqual(['tool_calls'])
    expect(chunks.find((c) => c.choices[0]?.finish_reason)!.mcp_agent_rounds).toBe(2)
  })

  it('ends the stream with an error event when a later round is refused (each round is a governed request)', async () => {
    fake.reset()
    await expect(askStream(onceKey, 'say hello')).rejects.toThrow(/request limit exceeded/)
    // The first round ran and its tool too; the second was refused before reaching the provider.
    expect(fake.requests).toHaveLength(1)

    // The same for a Responses stream: an error event (the SDK yields it), no response.completed.
    fake.reset()
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: onceResponsesKey, maxRetries: 0 })
    const input = 'say hello'
    const events: OpenAI.Responses.ResponseStreamEvent[] = []
    for await (const ev of await client.responses.create({
      model: 'openai/gpt-4o-mini',
      input,
      stream: true,
    }))
      events.push(ev)
    expect(fake.requests).toHaveLength(1)
    const last = events.at(-1)!
    expect(last.type, JSON.stringify(events.map((e) => e.type))).toBe('error')
    expect((last as OpenAI.Responses.ResponseErrorEvent).message).toMatch(/request limit exceeded/)
    expect(events.map((e) => e.type)).not.toContain('response.completed')
  })

  it('runs an auto-executed tool for a Responses request and answers with the next reply, usage summed', async () => {
    fake.reset()
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: echoKey, maxRetries: 0 })
    const { data, response } = await client.responses
      .create({ model: 'openai/gpt-4o-mini', input: 'say hello' })
      .withResponse()
    expect(fake.requests).toHaveLength(2)
    const [first, second] = fake.requests.map((r) => r.body)
    const call = second.input.find((i: any) => i.type === 'function_call')
    expect(call).toMatchObject({ name: 'everything-echo', arguments: '{"message":"hello"}' })
    const output = second.input.find((i: any) => i.type === 'function_call_output')
    expect(output.call_id).toBe(call.call_id)
    expect(output.output).toContain('Echo: hello')
    expect(data.output_text).toMatch(/^Tool said: .*Echo: hello/)
    expect(response.headers.get('x-bifrost-mcp-agent-rounds')).toBe('1')
    const [u1, u2] = [await usageOf('/v1/responses', first), await usageOf('/v1/responses', second)]
    expect(data.usage).toMatchObject({
      input_tokens: u1.input_tokens + u2.input_tokens,
      output_tokens: u1.output_tokens + u2.output_tokens,
    })
    const price = (u: { input_tokens: number; output_tokens: number }) =>
      u.input_tokens * 0.15e-6 + u.output_tokens * 0.6e-6
    expect(Number(response.headers.get('x-bifrost-cost-usd'))).toBeCloseTo(price(u1) + price(u2), 10)

    fake.reset()
    const sum = await new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: sumKey, maxRetries: 0 }).responses
      .create({ model: 'openai/gpt-4o-mini', input: 'add' })
      .withResponse()
    expect(fake.requests).toHaveLength(1)
    expect(sum.data.output[0]).toMatchObject({ type: 'function_call', name: 'everything-get-sum' })
    expect(sum.response.headers.get('x-bifrost-mcp-agent-rounds')).toBeNull()
  })

  it('streams a Responses answer after running an auto-executed tool, in one event stream', async () => {
    const streamed = async (vk: string, input: string) => {
      const events: (OpenAI.Responses.ResponseStreamEvent & Record<string, any>)[] = []
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: vk, maxRetries: 0 })
      for await (const ev of await client.responses.create({
        model: 'openai/gpt-4o-mini',
        input,
        stream: true,
      }))
        events.push(ev as OpenAI.Responses.ResponseStreamEvent & Record<string, any>)
      return events
    }
    fake.reset()
    const events = await streamed(echoKey, 'say hello')
    expect(fake.requests).toHaveLength(2)
    const [first, second] = fake.requests.map((r) => r.body)
    expect(second.input.find((i: any) => i.type === 'function_call_output').output).toContain('Echo: hello')
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i))
    expect(events.filter((e) => e.type === 'response.created')).toHaveLength(1)
    expect(events.some((e) => e.type === 'response.function_call_arguments.delta')).toBe(false)
    const text = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('')
    expect(text).toMatch(/^Tool said: .*Echo: hello/)
    const done = events.at(-1)!
    expect(done.type).toBe('response.completed')
    expect(done.response.id).toBe(events[0].response.id)
    expect(done.response.output.map((i: any) => i.type)).toEqual(['message'])
    expect(done.response.mcp_agent_rounds).toBe(1)
    const [u1, u2] = [await usageOf('/v1/responses', first), await usageOf('/v1/responses', second)]
    expect(done.response.usage).toMatchObject({
      input_tokens: u1.input_tokens + u2.input_tokens,
      output_tokens: u1.output_tokens + u2.output_tokens,
    })

    fake.reset()
    const sum = await streamed(sumKey, 'add')
    expect(fake.requests).toHaveLength(1)
    const end = sum.at(-1)!
    expect(end.type).toBe('response.completed')
    expect(end.response.output[0]).toMatchObject({ type: 'function_call', name: 'everything-get-sum' })
    expect(sum.some((e) => e.type === 'response.function_call_arguments.delta')).toBe(true)
    expect(end.response.mcp_agent_rounds).toBeUndefined()
  })
})
