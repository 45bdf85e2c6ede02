import { describe, expect, it } from 'vitest'
import { GatewayError } from '../core/errors.js'
import type { ChatChunk, ChatResponse } from '../core/schemas/index.js'
import { structuredFormatOf, structuredToolStreamToText, structuredToolToText } from './structured-output.js'
import type { ChatStreamItem } from '../core/provider-adapter.js'

const SCHEMA = { type: 'object', properties: { a: { type: 'string' } } }

describe('structuredFormatOf', () => {
  it('reads json_schema, json_object and text', () => {
    expect(
      structuredFormatOf({ type: 'json_schema', json_schema: { name: 'n', schema: SCHEMA, strict: true } }),
    ).toEqual({ type: 'json_schema', name: 'n', schema: SCHEMA, strict: true })
    expect(structuredFormatOf({ type: 'json_schema', json_schema: { schema: SCHEMA } })).toMatchObject({
      name: 'response',
    })
    expect(structuredFormatOf({ type: 'json_object' })).toEqual({ type: 'json_object' })
    expect(structuredFormatOf({ type: 'text' })).toBeUndefined()
    expect(structuredFormatOf(undefined)).toBeUndefined()
  })

  it('refuses a format it cannot apply with a 400 naming response_format', () => {
    for (const bad of ['json', { type: 'json_schema' }, { type: 'xml' }]) {
      const err = (() => {
        try {
          structuredFormatOf(bad)
        } catch (e) {
          return e
        }
      })()
      expect(err).toBeInstanceOf(GatewayError)
      expect(err).toMatchObject({ status: 400, param: 'response_format' })
    }
  })
})

describe('the structured-output tool as text', () => {
  it('moves the tool call into content and finishes with stop', () => {
    const body = {
      id: 'x',
      object: 'chat.completion',
      created: 0,
      model: 'm',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 't', type: 'function', function: { name: 'out', arguments: '{"a":"b"}' } }],
          },
          finish_reason: 'tool_calls',
        },
      ],
    } as ChatResponse
    const out = structuredToolToText(body, 'out').choices[0]
    expect(out.message.content).toBe('{"a":"b"}')
    expect(out.message.tool_calls).toBeUndefined()
    expect(out.finish_reason).toBe('stop')
  })

  it('streams the tool arguments as content, leaving other tool calls alone', async () => {
    const chunk = (
      delta: ChatChunk['choices'][0]['delta'],
      finish: string | null = null,
    ): ChatStreamItem => ({
      chunk: {
        id: 'x',
        object: 'chat.completion.chunk',
        created: 0,
        model: 'm',
        choices: [{ index: 0, delta, finish_reason: finish }],
      },
    })
    async function* upstream(): AsyncIterable<ChatStreamItem> {
      yield chunk({
        tool_calls: [{ index: 0, id: 't', type: 'function', function: { name: 'out', arguments: '' } }],
      })
      yield chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] })
      yield chunk({ tool_calls: [{ index: 0, function: { arguments: '"b"}' } }] })
      yield chunk({}, 'tool_calls')
    }
    const items: ChatStreamItem[] = []
    for await (const item of structuredToolStreamToText(upstream(), 'out')) items.push(item)
    const deltas = items.map((i) => i.chunk!.choices[0].delta)
    expect(deltas.map((d) => d.content ?? '').join('')).toBe('{"a":"b"}')
    expect(deltas.every((d) => d.tool_calls === undefined)).toBe(true)
    expect(items[items.length - 1].chunk!.choices[0].finish_reason).toBe('stop')
  })
})
