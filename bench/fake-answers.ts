// The fixed answers of the fake upstream, shared with the harness so that it can check that a target
// passed them through intact.
const MODEL = 'gpt-4o-mini-2024-07-18'
const CREATED = 1_700_000_000
const STREAM_EVENTS = 20

export const completionContent = 'Hello! How can I assist you today?'

export const completionBody = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-BENCH0000000000000000000000001',
    object: 'chat.completion',
    created: CREATED,
    model: MODEL,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: completionContent, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: 9,
      completion_tokens: 9,
      total_tokens: 18,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_bench0000',
  }),
)

function streamDelta(index: number): Record<string, string | null> {
  if (index === 0) return { role: 'assistant', content: '', refusal: null }
  if (index === STREAM_EVENTS - 1) return {}
  return { content: ` word${index}` }
}

/** Concatenated content of the stream: what a client should reassemble from the deltas. */
export const streamedContent = Array.from(
  { length: STREAM_EVENTS },
  (_, i) => streamDelta(i).content ?? '',
).join('')

/** The SSE events of one streamed answer, one buffer per event so that a proxy sees many small chunks. */
export function buildStreamEvents(includeUsage: boolean): Buffer[] {
  const base = {
    id: 'chatcmpl-BENCH0000000000000000000000002',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: MODEL,
    service_tier: 'default',
    system_fingerprint: 'fp_bench0000',
  }
  // OpenAI sends "usage": null on every chunk when usage was asked for, then a chunk with no choices.
  const usageField = includeUsage ? { usage: null } : {}
  const events: Buffer[] = []
  for (let i = 0; i < STREAM_EVENTS; i++) {
    const finishReason = i === STREAM_EVENTS - 1 ? 'stop' : null
    const chunk = {
      ...base,
      choices: [{ index: 0, delta: streamDelta(i), logprobs: null, finish_reason: finishReason }],
      ...usageField,
    }
    events.push(Buffer.from(`data: ${JSON.stringify(chunk)}\n\n`))
  }
  if (includeUsage) {
    const usage = { prompt_tokens: 9, completion_tokens: STREAM_EVENTS - 2, total_tokens: 7 + STREAM_EVENTS }
    events.push(Buffer.from(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`))
  }
  events.push(Buffer.from('data: [DONE]\n\n'))
  return events
}
