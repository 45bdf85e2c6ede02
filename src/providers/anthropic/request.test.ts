import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../core/errors.js'
import type { ChatRequest, ReasoningDetail } from '../../core/schemas/index.js'
import { toAnthropicRequest } from './request.js'

const build = (req: Partial<ChatRequest> & Record<string, unknown>, stream = false) =>
  toAnthropicRequest(
    { model: 'anthropic/claude', messages: [{ role: 'user', content: 'hi' }], ...req } as ChatRequest,
    'claude-x',
    stream,
  )

/** A user's question, then the given assistant turn (its role added), then what follows it. */
const afterAssistant = (assistant: Record<string, unknown>, ...after: Record<string, unknown>[]) =>
  [{ role: 'user', content: 'q' }, { role: 'assistant', ...assistant }, ...after] as ChatRequest['messages']

describe('toAnthropicRequest', () => {
  it('sends the provider model name, the messages and a default max_tokens of 4096', () => {
    expect(build({})).toEqual({
      model: 'claude-x',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 4096,
    })
  })

  it('prefers max_completion_tokens over max_tokens', () => {
    expect(build({ max_tokens: 100 }).max_tokens).toBe(100)
    expect(build({ max_tokens: 100, max_completion_tokens: 200 }).max_tokens).toBe(200)
  })

  it('sets stream only for streamed requests', () => {
    expect(build({}, true).stream).toBe(true)
    expect('stream' in build({ stream: true }, false)).toBe(false)
  })

  it('merges several system messages into one system prompt', () => {
    const body = build({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'hi' },
        { role: 'system', content: 'Never apologise.' },
      ],
    })
    expect(body.system).toBe('You are terse.\n\nAnswer in French.\n\nNever apologise.')
    expect(body.messages).toEqual([{ role: 'user', content: 'hi' }])
  })

  it('keeps cache_control on a system part by sending system as text blocks', () => {
    const body = build({
      messages: [
        { role: 'system', content: 'Rules.' },
        {
          role: 'system',
          content: [{ type: 'text', text: 'Long context', cache_control: { type: 'ephemeral' } }],
        },
        { role: 'user', content: 'hi' },
      ],
    })
    expect(body.system).toEqual([
      { type: 'text', text: 'Rules.' },
      { type: 'text', text: 'Long context', cache_control: { type: 'ephemeral' } },
    ])
  })

  it('translates text and image parts, keeping cache_control', () => {
    const body = build({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?', cache_control: { type: 'ephemeral', ttl: '1h' } },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
          ],
        },
      ],
    })
    expect(body.messages[0].content).toEqual([
      { type: 'text', text: 'What is this?', cache_control: { type: 'ephemeral', ttl: '1h' } },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ])
  })

  it('turns a PDF file part into a document block', () => {
    const body = build({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' } },
          ],
        },
      ],
    })
    expect(body.messages[0].content).toEqual([
      {
        type: 'document',
        source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
        title: 'a.pdf',
      },
    ])
  })

  it('passes Anthropic-native content blocks through unchanged', () => {
    const native = {
      type: 'document',
      source: { type: 'url', url: 'https://example.com/a.pdf' },
      citations: { enabled: true },
    }
    const body = build({ messages: [{ role: 'user', content: [native as any] }] })
    expect(body.messages[0].content).toEqual([native])
  })

  it('rejects audio input with a 400 naming the part', () => {
    const call = () =>
      build({
        messages: [
          { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAA', format: 'wav' } }] },
        ],
      })
    expect(call).toThrow(GatewayError)
    expect(call).toThrow(/messages\[0\]\.content\[0\]/)
  })

  it('turns assistant tool_calls into tool_use blocks with parsed input', () => {
    const body = build({
      messages: afterAssistant(
        {
          content: 'Checking.',
          tool_calls: [
            {
              id: 'toolu_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            { id: 'toolu_2', type: 'function', function: { name: 'get_time', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: '20C' },
        { role: 'tool', tool_call_id: 'toolu_2', content: '10:00' },
      ),
    })
    expect(body.messages[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: {} },
      ],
    })
  })

  it('merges consecutive tool results and a following user message into one user turn', () => {
    const body = build({
      messages: afterAssistant(
        {
          content: null,
          tool_calls: [
            { id: 'a', type: 'function', function: { name: 'w', arguments: '{}' } },
            { id: 'b', type: 'function', function: { name: 'w', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'a', content: 'sunny' },
        { role: 'tool', tool_call_id: 'b', content: [{ type: 'text', text: 'rainy' }] },
        { role: 'user', content: 'and tomorrow?' },
      ),
    })
    expect(body.messages).toHaveLength(3)
    expect(body.messages[2]).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'a', content: 'sunny' },
        { type: 'tool_result', tool_use_id: 'b', content: [{ type: 'text', text: 'rainy' }] },
        { type: 'text', text: 'and tomorrow?' },
      ],
    })
  })

  it('refuses tool call arguments that are not JSON instead of sending {}', () => {
    const call = () =>
      build({
        messages: afterAssistant(
          {
            content: null,
            tool_calls: [{ id: 'a', type: 'function', function: { name: 'w', arguments: '{"city":' } }],
          },
          { role: 'tool', tool_call_id: 'a', content: 'ok' },
        ),
      })
    expect(call).toThrow(/not valid JSON/)
    try {
      call()
    } catch (err) {
      expect((err as GatewayError).status).toBe(400)
      expect((err as GatewayError).param).toBe('messages[1].tool_calls[0].function.arguments')
    }
  })

  it('places signed thinking and redacted thinking before text and tool_use', () => {
    const body = build({
      messages: afterAssistant(
        {
          content: 'answer',
          tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
          reasoning: 'thoughts',
          reasoning_details: [
            { type: 'reasoning.text', index: 0, text: 'thoughts', signature: 'sig1' },
            { type: 'reasoning.encrypted', index: 1, data: 'opaque' },
          ],
        },
        { role: 'tool', tool_call_id: 't', content: 'r' },
      ),
    })
    expect(body.messages[1].content).toEqual([
      { type: 'thinking', thinking: 'thoughts', signature: 'sig1' },
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'text', text: 'answer' },
      { type: 'tool_use', id: 't', name: 'f', input: { a: 1 } },
    ])
  })

  it('joins streamed reasoning pieces of one index so the block keeps its signature', () => {
    const body = build({
      messages: afterAssistant(
        {
          content: 'a',
          reasoning_details: [
            { type: 'reasoning.text', index: 0, text: 'Let me ' },
            { type: 'reasoning.text', index: 0, text: 'think.' },
            { type: 'reasoning.text', index: 0, signature: 'sig' },
          ],
        },
        { role: 'user', content: 'again' },
      ),
    })
    expect(body.messages[1].content).toEqual([
      { type: 'thinking', thinking: 'Let me think.', signature: 'sig' },
      { type: 'text', text: 'a' },
    ])
  })

  it('keeps signature-only reasoning and drops unsigned reasoning text', () => {
    const body = build({
      messages: afterAssistant(
        {
          content: 'a',
          reasoning_details: [
            { type: 'reasoning.text', text: 'unsigned' },
            { type: 'reasoning.text', signature: 'only-sig' },
          ],
        },
        { role: 'user', content: 'again' },
      ),
    })
    expect(body.messages[1].content).toEqual([
      { type: 'thinking', thinking: '', signature: 'only-sig' },
      { type: 'text', text: 'a' },
    ])
  })

  it('maps stop, temperature and top_p', () => {
    expect(build({ stop: 'END', temperature: 0.2, top_p: 0.9 })).toMatchObject({
      stop_sequences: ['END'],
      temperature: 0.2,
      top_p: 0.9,
    })
    expect(build({ stop: ['a', 'b'] }).stop_sequences).toEqual(['a', 'b'])
  })

  it('translates function tools to name, description and input_schema, keeping cache_control', () => {
    const body = build({
      tools: [
        {
          type: 'function',
          function: {
            name: 'w',
            description: 'weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
          cache_control: { type: 'ephemeral' },
        } as any,
        { type: 'function', function: { name: 'now' } },
        { type: 'web_search_20250305', name: 'web_search', max_uses: 3 } as any,
      ],
    })
    expect(body.tools).toEqual([
      {
        name: 'w',
        description: 'weather',
        input_schema: { type: 'object', properties: { city: { type: 'string' } } },
        cache_control: { type: 'ephemeral' },
      },
      { name: 'now', input_schema: { type: 'object' } },
      { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
    ])
  })

  it('maps each tool_choice form and parallel_tool_calls false', () => {
    const tools = [{ type: 'function', function: { name: 'w' } }]
    expect(build({ tools, tool_choice: 'auto' }).tool_choice).toEqual({ type: 'auto' })
    expect(build({ tools, tool_choice: 'none' }).tool_choice).toEqual({ type: 'none' })
    expect(build({ tools, tool_choice: 'required' }).tool_choice).toEqual({ type: 'any' })
    expect(build({ tools, tool_choice: { type: 'function', function: { name: 'w' } } }).tool_choice).toEqual({
      type: 'tool',
      name: 'w',
    })
    expect(build({ tools, parallel_tool_calls: false }).tool_choice).toEqual({
      type: 'auto',
      disable_parallel_tool_use: true,
    })
    expect(build({ tools, tool_choice: 'required', parallel_tool_calls: false }).tool_choice).toEqual({
      type: 'any',
      disable_parallel_tool_use: true,
    })
    expect(build({ tools }).tool_choice).toBeUndefined()
  })

  it('turns reasoning_effort into a thinking budget and raises max_tokens above it', () => {
    expect(build({ reasoning_effort: 'low' })).toMatchObject({
      thinking: { type: 'enabled', budget_tokens: 1024 },
      max_tokens: 4096,
    })
    expect(build({ reasoning_effort: 'medium' })).toMatchObject({
      thinking: { type: 'enabled', budget_tokens: 4096 },
      max_tokens: 8192,
    })
    const high = build({ reasoning_effort: 'high', max_completion_tokens: 1000 })
    expect(high.thinking).toEqual({ type: 'enabled', budget_tokens: 16384 })
    expect(high.max_tokens).toBeGreaterThan(16384)
  })

  it('passes Anthropic-native parameters through unchanged', () => {
    const native = {
      thinking: { type: 'enabled', budget_tokens: 2000 },
      top_k: 5,
      metadata: { user_id: 'u-1' },
      service_tier: 'standard_only',
      container: 'container_1',
      mcp_servers: [{ type: 'url', url: 'https://mcp.example.com', name: 'x' }],
      context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] },
    }
    expect(build({ ...native, reasoning_effort: 'high' })).toMatchObject({ ...native, max_tokens: 4096 })
  })

  it('does not send OpenAI-only parameters Anthropic would reject', () => {
    const body = build({
      n: 1,
      seed: 7,
      frequency_penalty: 0.1,
      presence_penalty: 0.1,
      logit_bias: { '1': 2 },
      logprobs: true,
      top_logprobs: 2,
      stream_options: { include_usage: true },
      fallbacks: ['openai/gpt-4o'],
      store: true,
      service_tier: 'flex',
    })
    expect(Object.keys(body).sort()).toEqual(['max_tokens', 'messages', 'model'])
  })

  it('maps user to metadata.user_id and keeps only user_id from metadata', () => {
    expect(build({ user: 'alice' }).metadata).toEqual({ user_id: 'alice' })
    expect(build({ user: 'alice', metadata: { user_id: 'bob', trace: 'x' } }).metadata).toEqual({
      user_id: 'bob',
    })
    expect(build({ metadata: { trace: 'x' } }).metadata).toBeUndefined()
  })

  it('asks no thinking for a tool turn that came back without its signed thinking, as Anthropic would refuse it', () => {
    const toolTurn = (reasoning_details?: ReasoningDetail[]): Partial<ChatRequest> => ({
      reasoning_effort: 'low',
      messages: afterAssistant(
        {
          content: null,
          ...(reasoning_details && { reasoning_details }),
          tool_calls: [{ id: 't1', type: 'function', function: { name: 'w', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 't1', content: '21C' },
      ),
    })
    expect(build(toolTurn()).thinking).toBeUndefined()
    const signed: ReasoningDetail[] = [{ type: 'reasoning.text', index: 0, text: 'hmm', signature: 'sig' }]
    expect(build(toolTurn(signed)).thinking).toEqual({ type: 'enabled', budget_tokens: 1024 })
    expect(build({ reasoning_effort: 'low' }).thinking).toEqual({ type: 'enabled', budget_tokens: 1024 })
  })
})
