import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI from 'openai'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'
import { EVERYTHING } from './helpers/mcp.js'

/**
 * Agent mode end to end, with server-everything over stdio whose `echo` is auto-executed: the
 * gateway runs the model's call to it, asks the model again with the result and answers the
 * caller with the final text, the rounds' usage summed; calls to other tools go back to the caller.
 */
describe('MCP agent mode for chat completions', () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  let echoKey: string
  let sumKey: string

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as any }
  }

  const ask = (vk: string, prompt: string) =>
    new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: vk, maxRetries: 0 }).chat.completions
      .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: prompt }] })
      .withResponse()

  const firstCallName = (data: OpenAI.ChatCompletion) =>
    (data.choices[0].message.tool_calls?.[0] as { function?: { name?: string } } | undefined)?.function?.name

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      mcp: {
        client_configs: [
          {
            name: 'everything',
            connection_type: 'stdio',
            stdio_config: { command: process.execPath, args: [EVERYTHING] },
            tools_to_execute: ['*'],
            tools_to_auto_execute: ['echo'],
          },
        ],
      },
    })
    for (let i = 0; i < 200 && !gw.heimdall.mcp.listTools().some((t) => t.name === 'everything-echo'); i++)
      await sleep(50)
    const provider_configs = [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }]
    const key = async (name: string, tools: string[]) =>
      (
        await api('POST', '/api/governance/virtual-keys', {
          name,
          provider_configs,
          mcp_configs: [{ mcp_client_name: 'everything', tools_to_execute: tools }],
        })
      ).body.virtual_key.value as string
    echoKey = await key('echo-only', ['echo'])
    sumKey = await key('sum-only', ['get-sum'])
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
    const usageOf = async (body: unknown) =>
      (
        (await (
          await fetch(`${fake.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
            body: JSON.stringify(body),
          })
        ).json()) as any
      ).usage
    const [u1, u2] = [await usageOf(first), await usageOf(second)]
    expect(u1.prompt_tokens).toBeGreaterThan(0)
    expect(data.usage).toMatchObject({
      prompt_tokens: u1.prompt_tokens + u2.prompt_tokens,
      completion_tokens: u1.completion_tokens + u2.completion_tokens,
      total_tokens: u1.total_tokens + u2.total_tokens,
    })

    // The cost header is both rounds' cost: gpt-4o-mini's list price for each round's usage.
    const price = (u: { prompt_tokens: number; completion_tokens: number }) =>
      u.prompt_tokens * 0.15e-6 + u.completion_tokens * 0.6e-6
    const cost = Number(response.headers.get('x-bifrost-cost-usd'))
    expect(cost).toBeCloseTo(price(u1) + price(u2), 10)
    expect(cost).toBeGreaterThan(price(u2))
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

  it('leaves streamed chat completions to the caller', async () => {
    fake.reset()
    const stream = await new OpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey: echoKey,
      maxRetries: 0,
    }).chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'say hello' }],
      stream: true,
    })
    const names: string[] = []
    for await (const chunk of stream)
      for (const call of chunk.choices[0]?.delta.tool_calls ?? [])
        if (call.function?.name) names.push(call.function.name)
    expect(names).toEqual(['everything-echo'])
    expect(fake.requests).toHaveLength(1)
  })
})
