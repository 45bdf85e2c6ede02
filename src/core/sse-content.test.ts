import { describe, expect, it } from 'vitest'
import { contentFieldLength } from './sse-content.js'

describe('contentFieldLength', () => {
  it('measures the first content string as written, within the range', () => {
    expect(contentFieldLength('{"delta":{"content":"hi \\"you\\""}}')).toBe(10)
    expect(contentFieldLength('{"delta": {"content": "abc"}}')).toBe(3)
    expect(contentFieldLength('{"delta":{"content":""}}')).toBe(0)
    expect(contentFieldLength('xx{"content":"abc"}', 2)).toBe(3)
    expect(contentFieldLength('{"content":"abc"}', 0, 5)).toBe(-1)
  })

  it('is -1 for a null, array or missing content', () => {
    expect(contentFieldLength('{"delta":{"content":null}}')).toBe(-1)
    expect(contentFieldLength('{"logprobs":{"content":[]}}')).toBe(-1)
    expect(contentFieldLength('{"delta":{"tool_calls":[]}}')).toBe(-1)
    expect(contentFieldLength('{"content":"unterminated')).toBe(-1)
  })
})
