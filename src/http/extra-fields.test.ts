import { describe, expect, it } from 'vitest'
import { createContext } from '../core/context.js'
import { StreamExtraFields, withExtraFields } from './extra-fields.js'

function ctxFor(model: string) {
  const ctx = createContext({
    requestId: 'r',
    requestType: 'chat_completion_stream',
    signal: new AbortController().signal as never,
    headers: {},
    modelRequested: `openai/${model}`,
  })
  ctx.provider = 'openai'
  ctx.model = model
  return ctx
}

describe('extra_fields splicing', () => {
  it('adds the member to any JSON object, the empty one and trailing whitespace included', () => {
    const ctx = ctxFor('gpt-4o-mini')
    for (const text of ['{}', '{"a":1}\n', ' { "a" : [1, {}] } ']) {
      const out = JSON.parse(withExtraFields(text, ctx)) as { extra_fields: Record<string, unknown> }
      expect(out.extra_fields).toMatchObject({ provider: 'openai', model_requested: 'gpt-4o-mini' })
    }
    expect(withExtraFields('[1,2]', ctx)).toBe('[1,2]')
  })

  it('keeps multi-byte content intact in relayed frames, and escapes a non-ASCII model name', () => {
    const sx = new StreamExtraFields(ctxFor('modèle-日本'))
    const frames = Buffer.from(
      'data: {"choices":[{"delta":{"content":"é😀"}}]}\n\n: comment\n\ndata: {"choices":[]}\n\n',
      'utf8',
    )
    const out = sx.frames(frames.toString('latin1')).toString('utf8')
    const events = out
      .split('\n\n')
      .filter((e) => e.startsWith('data: '))
      .map((e) => JSON.parse(e.slice(6)) as { choices: unknown[]; extra_fields: Record<string, unknown> })
    expect(events).toHaveLength(2)
    expect(JSON.stringify(events[0].choices)).toContain('é😀')
    expect(events.map((e) => e.extra_fields.chunk_index)).toEqual([0, 1])
    expect(events[0].extra_fields.model_requested).toBe('modèle-日本')
    expect(out).toContain('\n\n: comment\n\n')
  })
})
