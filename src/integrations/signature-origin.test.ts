import { describe, expect, it } from 'vitest'
import type { ChatRequest } from '../core/schemas/index.js'
import { signatureForRoute, signatureFromRoute, standInCallSignatures } from './signature-origin.js'

describe('signature origin across routes', () => {
  it('leaves a signature of the route’s own family as it is, and reads it back as that family’s', () => {
    expect(signatureForRoute('g-sig', 'google-gemini-v1', 'google-gemini-v1')).toBe('g-sig')
    expect(signatureFromRoute('g-sig', 'google-gemini-v1')).toEqual({
      signature: 'g-sig',
      format: 'google-gemini-v1',
    })
  })

  it('carries a foreign signature’s origin through the client and back', () => {
    const out = signatureForRoute('b-sig', 'bedrock-converse', 'google-gemini-v1')
    expect(out).not.toBe('b-sig')
    expect(signatureFromRoute(out, 'google-gemini-v1')).toEqual({
      signature: 'b-sig',
      format: 'bedrock-converse',
    })
  })

  it('takes an untagged signature for Claude’s, which the Anthropic adapter does not tag', () => {
    const out = signatureForRoute('c-sig', undefined, 'bedrock-converse')
    expect(signatureFromRoute(out, 'bedrock-converse')).toEqual({
      signature: 'c-sig',
      format: 'anthropic-claude-v1',
    })
    expect(signatureForRoute('c-sig', undefined, 'anthropic-claude-v1')).toBe('c-sig')
  })
})

describe('stand-in signatures for calls', () => {
  const call = (id: string, extra_content?: Record<string, unknown>) => ({
    id,
    type: 'function' as const,
    function: { name: 'f', arguments: '{}' },
    ...(extra_content && { extra_content }),
  })
  const request = (first: ReturnType<typeof call>): ChatRequest => ({
    model: 'gemini/gemini-3-pro-preview',
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: null, tool_calls: [first, call('b')] },
      { role: 'tool', tool_call_id: 'a', content: '1' },
      { role: 'tool', tool_call_id: 'b', content: '2' },
    ],
  })

  it('gives the first call of a turn that lost its signature Google’s stand-in, and no other call', () => {
    const out = standInCallSignatures(request(call('a')), 'gemini-3-pro-preview')
    const calls = out.messages[1].tool_calls ?? []
    expect(calls.map((c) => c.extra_content)).toEqual([
      { google: { thought_signature: 'skip_thought_signature_validator' } },
      undefined,
    ])
  })

  it('leaves Gemini 2.5, which does not ask for signatures back, alone', () => {
    const req = request(call('a'))
    expect(standInCallSignatures(req, 'gemini-2.5-flash')).toBe(req)
  })

  it('keeps a real signature and the request as it was', () => {
    const req = request(call('a', { google: { thought_signature: 'real' } }))
    expect(standInCallSignatures(req, 'gemini-3-pro-preview')).toBe(req)
  })
})
