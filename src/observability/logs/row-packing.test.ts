import { describe, expect, it } from 'vitest'
import { answerText, bundleTexts, unbundleTexts } from './row-packing.js'

describe('a log row packed as one text', () => {
  it('splits back into the texts it joined, nulls and characters beyond ASCII included', () => {
    const texts = ['{"messages":[{"content":"Grüße, 世界 👋"}]}', null, '[{"provider":"openai"}]']
    expect(unbundleTexts(bundleTexts(texts)!)).toEqual(texts)
    expect(unbundleTexts(bundleTexts(['', 'a\n,b', null])!)).toEqual(['', 'a\n,b', null])
    expect(bundleTexts([null, null, undefined])).toBeNull()
  })

  it('keeps the words of an answer for search: its text, reasoning and tool calls, not its envelope', () => {
    const chat = JSON.stringify({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      model: 'gpt-4o',
      choices: [{ message: { role: 'assistant', content: 'He said "hi"\nthen left', refusal: null } }],
    })
    expect(answerText(chat)).toBe('He said "hi"\nthen left')
    const streamed = JSON.stringify({
      role: 'assistant',
      content: '',
      reasoning: 'think first',
      tool_calls: [
        { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
      ],
    })
    expect(answerText(streamed)).toBe('think first get_weather {"city":"Oslo"}')
    const responses = JSON.stringify({
      object: 'response',
      output: [{ type: 'message', content: [{ type: 'output_text', text: 'Bonjour' }] }],
    })
    expect(answerText(responses)).toBe('Bonjour')
    // An answer cut at the log's cap is stored as a JSON string; other text as it is.
    expect(answerText(JSON.stringify('{"choices":[{"message":{"content":"cut'))).toContain('"content":"cut')
    expect(answerText('plain words')).toBe('plain words')
  })
})
