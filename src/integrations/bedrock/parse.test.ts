import { describe, expect, it } from 'vitest'
import { converseToChat, validateConverseBody } from './parse.js'

const ask = (additionalModelRequestFields: Record<string, unknown>) =>
  validateConverseBody({
    messages: [{ role: 'user', content: [{ text: 'hi' }] }],
    additionalModelRequestFields,
  })

describe('converseToChat reasoning', () => {
  it('reads Claude’s thinking budget and Nova’s reasoningConfig as a reasoning effort for other targets', () => {
    expect(
      converseToChat(ask({ thinking: { type: 'enabled', budget_tokens: 2048 } }), 'openai/o3')
        .reasoning_effort,
    ).toBe('low')
    expect(
      converseToChat(ask({ reasoningConfig: { type: 'enabled', maxReasoningEffort: 'high' } }), 'openai/o3')
        .reasoning_effort,
    ).toBe('high')
    expect(converseToChat(ask({ reasoningConfig: { type: 'enabled' } }), 'openai/o3').reasoning_effort).toBe(
      'medium',
    )
    expect(
      converseToChat(ask({ reasoningConfig: { type: 'disabled' } }), 'openai/o3').reasoning_effort,
    ).toBeUndefined()
  })

  it('leaves them to Bedrock, which reads additionalModelRequestFields itself', () => {
    const req = converseToChat(
      ask({ reasoningConfig: { type: 'enabled' } }),
      'bedrock/amazon.nova-2-lite-v1:0',
    )
    expect(req.reasoning_effort).toBeUndefined()
  })
})
