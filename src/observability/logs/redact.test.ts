import { describe, expect, it } from 'vitest'
import { redactedJsonText } from './redact.js'

describe('redactedJsonText', () => {
  it('replaces the caller’s credentials as JSON writes them, plain or with characters JSON escapes', () => {
    const plain = 'vk-plain-credential-1234'
    const quoted = 'vk"quoted\\credential'
    const text = JSON.stringify({ messages: [{ content: `mine: ${plain} and ${quoted}` }] })
    expect(redactedJsonText(text, [plain, quoted])).toBe(
      JSON.stringify({ messages: [{ content: 'mine: [REDACTED] and [REDACTED]' }] }),
    )
  })
})
