/**
 * Micro-benchmark of what Bifrost's `extra_fields` cost on the /v1 hot path (src/http/extra-fields.ts):
 * the splice into a relayed JSON answer, and into a read of relayed stream frames, against the same
 * work without them. `npx tsx bench/extra-fields-splice.ts`.
 */
import { createContext } from '../src/core/context.js'
import { StreamExtraFields, withExtraFields } from '../src/http/extra-fields.js'

const ctx = createContext({
  requestId: 'r',
  requestType: 'chat_completion',
  signal: new AbortController().signal as never,
  headers: {},
  modelRequested: 'openai/gpt-4o-mini',
})
ctx.route = '/v1/chat/completions'
ctx.provider = 'openai'
ctx.model = 'gpt-4o-mini'
ctx.upstreamLatencyMs = 12.3

const answer = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'x'.repeat(800) }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 10, completion_tokens: 200, total_tokens: 210 },
})
const frame = (i: number) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: `tok${i} ` }, finish_reason: null }] })}\n\n`
const frames = Buffer.from(Array.from({ length: 8 }, (_, i) => frame(i)).join(''), 'latin1')
const latin1 = frames.toString('latin1')

function time(name: string, n: number, fn: () => unknown): void {
  for (let i = 0; i < n / 10; i++) fn()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) fn()
  const ns = Number(process.hrtime.bigint() - t0) / n
  console.log(`${name.padEnd(48)} ${ns.toFixed(0).padStart(6)} ns/op`)
}

const N = 200_000
time('JSON answer, sent as is (Buffer.from)', N, () => Buffer.from(answer))
time('JSON answer + extra_fields (splice, Buffer.from)', N, () => Buffer.from(withExtraFields(answer, ctx)))
time('8 stream frames, written as is (Buffer.concat)', N, () => Buffer.concat([frames]))
const sx = new StreamExtraFields(ctx)
time('8 stream frames + extra_fields (Buffer.concat)', N, () => Buffer.concat([sx.frames(latin1)]))
