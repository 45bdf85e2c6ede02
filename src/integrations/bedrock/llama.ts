import {
  applySampling,
  textFamilyExchange,
  requiredText,
  type InvokeBody,
  type InvokeExchange,
} from './invoke-body.js'
import { promptToMessages } from './prompt-template.js'

/** Meta Llama's native answer: `stop` or `length`. */
function stopReason(finish: string | null): string {
  return finish === 'length' ? 'length' : 'stop'
}

/**
 * Meta Llama's InvokeModel body (`prompt`, `max_gen_len`, `temperature`, `top_p`), answered with
 * `generation`, `prompt_token_count`, `generation_token_count` and `stop_reason`.
 */
export function llamaExchange(body: InvokeBody, model: string): InvokeExchange {
  const prompt = requiredText(body, 'prompt')
  const request = applySampling({ model, messages: promptToMessages(prompt) }, body, {
    maxTokens: 'max_gen_len',
    temperature: 'temperature',
    topP: 'top_p',
  })
  return textFamilyExchange(request, {
    answer: (a) => ({
      generation: a.text,
      prompt_token_count: a.usage?.prompt_tokens ?? 0,
      generation_token_count: a.usage?.completion_tokens ?? 0,
      stop_reason: stopReason(a.finish),
    }),
    text: (text) => ({
      generation: text,
      prompt_token_count: null,
      generation_token_count: null,
      stop_reason: null,
    }),
    end: (a) => ({
      generation: '',
      prompt_token_count: a.usage?.prompt_tokens ?? 0,
      generation_token_count: a.usage?.completion_tokens ?? 0,
      stop_reason: stopReason(a.finish),
    }),
  })
}
