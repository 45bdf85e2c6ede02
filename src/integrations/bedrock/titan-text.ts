import type { ChatMessage } from '../../core/schemas/index.js'
import {
  applySampling,
  textFamilyExchange,
  invalid,
  isObject,
  requiredText,
  type InvokeBody,
  type InvokeExchange,
} from './invoke-body.js'

/** Titan's completion reasons: FINISH, LENGTH, CONTENT_FILTERED (and STOP_CRITERIA_MET, not told apart here). */
function completionReason(finish: string | null): string {
  if (finish === 'length') return 'LENGTH'
  if (finish === 'content_filter') return 'CONTENT_FILTERED'
  return 'FINISH'
}

/** Titan's conversational form `User: ...\nBot:` is one user turn; anything else is sent as written. */
function titanMessages(inputText: string): ChatMessage[] {
  const m = /^\s*User:\s*([\s\S]*?)\s*\n\s*Bot:\s*$/.exec(inputText)
  return [{ role: 'user', content: m ? m[1] : inputText }]
}

/**
 * Amazon Titan Text's body (`inputText`, `textGenerationConfig{maxTokenCount, temperature, topP,
 * stopSequences}`), answered with `inputTextTokenCount` and `results[{tokenCount, outputText,
 * completionReason}]`; its stream chunks are `{outputText, index, totalOutputTextTokenCount,
 * completionReason, inputTextTokenCount}` with the counts in the last one.
 */
export function titanTextExchange(body: InvokeBody, model: string): InvokeExchange {
  const inputText = requiredText(body, 'inputText')
  const config = body.textGenerationConfig ?? {}
  if (!isObject(config))
    throw invalid(
      'Malformed input request: #/textGenerationConfig: expected an object',
      'textGenerationConfig',
    )
  const request = applySampling({ model, messages: titanMessages(inputText) }, config, {
    maxTokens: 'maxTokenCount',
    temperature: 'temperature',
    topP: 'topP',
    stop: 'stopSequences',
  })
  return textFamilyExchange(request, {
    answer: (a) => ({
      inputTextTokenCount: a.usage?.prompt_tokens ?? 0,
      results: [
        {
          tokenCount: a.usage?.completion_tokens ?? 0,
          outputText: a.text,
          completionReason: completionReason(a.finish),
        },
      ],
    }),
    text: (text) => ({
      outputText: text,
      index: 0,
      totalOutputTextTokenCount: null,
      completionReason: null,
      inputTextTokenCount: null,
    }),
    end: (a) => ({
      outputText: '',
      index: 0,
      totalOutputTextTokenCount: a.usage?.completion_tokens ?? 0,
      completionReason: completionReason(a.finish),
      inputTextTokenCount: a.usage?.prompt_tokens ?? 0,
    }),
  })
}
