import { describe, expect, it } from 'vitest'
import { promptToMessages } from './prompt-template.js'

describe('promptToMessages', () => {
  it('reads Llama 3 header turns and drops the empty assistant header that asks for the answer', () => {
    const prompt =
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\nhello<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nagain<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n'
    expect(promptToMessages(prompt)).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'again' },
    ])
  })

  it('reads [INST] turns, with Llama 2’s <<SYS>> block and Mistral’s earlier answers', () => {
    expect(promptToMessages('<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nhi [/INST]')).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ])
    expect(promptToMessages('<s>[INST] one [/INST] first answer</s>[INST] two [/INST]')).toEqual([
      { role: 'user', content: 'one' },
      { role: 'assistant', content: 'first answer' },
      { role: 'user', content: 'two' },
    ])
  })

  it('sends a prompt without a template, or a template without a user turn, as written', () => {
    expect(promptToMessages('Tell me a joke')).toEqual([{ role: 'user', content: 'Tell me a joke' }])
    const odd = '<|start_header_id|>assistant<|end_header_id|>\n\n'
    expect(promptToMessages(odd)).toEqual([{ role: 'user', content: odd }])
  })
})
