import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base'
import { afterAll, describe, expect, it } from 'vitest'
import type { ConfigFile } from '../src/core/schemas/index.js'
import { computeCost } from '../src/governance/pricing/index.js'
import { fakeProvider, startHeimdall } from './helpers/heimdall.js'

/**
 * A budget holds at concurrency when the admission estimate is right: 100 concurrent requests with
 * long, token-dense prompts (log lines full of ids, about 2.3 characters a token) against a budget
 * for about 10. The provider reports the prompt tokens OpenAI's tokenizer counts; the answers are held
 * until every request was either refused or is in flight, so admission alone decides what is spent.
 * Spend must stay within the budget plus the one request admitted on the budget's last remainder.
 */

const N = 100
const MAX_TOKENS = 50
const MODEL = 'gpt-4o'

/** Token-dense text: log lines of timestamps, UUIDs, hex ids and numbers. */
function logLines(chars: number): string {
  let out = ''
  while (out.length < chars) {
    const b = randomBytes(24).toString('hex')
    out +=
      `2026-12-06T04:${b.slice(0, 2)}:${b.slice(2, 4)}.${b.slice(4, 7)}Z req=${b.slice(0, 8)}-${b.slice(8, 12)}-` +
      `${b.slice(12, 16)}-${b.slice(16, 20)}-${b.slice(20, 32)} user=${b.slice(32, 40)} path=/api/v2/items/` +
      `${parseInt(b.slice(40, 46), 16)} status=200 latency_ms=${parseInt(b.slice(46, 48), 16)}\n`
  }
  return out.slice(0, chars)
}

/** OpenAI's count of a chat prompt: each message's content plus 3, plus 3 to prime the reply. */
function openAIPromptTokens(messages: { content: string }[]): number {
  return messages.reduce((sum, m) => sum + countTokens(m.content) + 3, 3)
}

interface HeldUpstream {
  url: string
  /** Requests that reached the provider and wait for their answer. */
  held(): number
  releaseAll(): void
  close(): Promise<void>
}

async function heldUpstream(): Promise<HeldUpstream> {
  const waiting: (() => void)[] = []
  let released = false
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = ''
    req.on('data', (d: Buffer) => (raw += d.toString()))
    req.on('end', () => {
      const body = JSON.parse(raw) as { model: string; messages: { content: string }[]; max_tokens: number }
      const prompt = openAIPromptTokens(body.messages)
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify({
            id: 'chatcmpl-held',
            object: 'chat.completion',
            created: 1,
            model: body.model,
            choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'length' }],
            usage: {
              prompt_tokens: prompt,
              completion_tokens: body.max_tokens,
              total_tokens: prompt + body.max_tokens,
            },
          }),
        )
      }
      if (released) answer()
      else waiting.push(answer)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    held: () => waiting.length,
    releaseAll: () => {
      released = true
      for (const answer of waiting.splice(0)) answer()
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

const closers: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const c of closers.splice(0)) await c()
})

describe('a budget under 100 concurrent long prompts', () => {
  it('spends at most the budget plus the one request admitted on its last remainder', async () => {
    const upstream = await heldUpstream()
    closers.push(() => upstream.close())
    const gw = await startHeimdall({
      providers: { openai: fakeProvider(upstream.url) },
      config_store: { enabled: true, type: 'sqlite', config: {} },
    } as ConfigFile)
    closers.push(() => gw.close())

    const prompts = Array.from({ length: N }, () => logLines(6000))
    const realCosts = prompts.map(
      (p) =>
        computeCost('openai', MODEL, {
          prompt_tokens: openAIPromptTokens([{ content: p }]),
          completion_tokens: MAX_TOKENS,
          total_tokens: 0,
        }).cost,
    )
    const meanCost = realCosts.reduce((a, b) => a + b, 0) / N
    const budget = 10 * meanCost

    const created = await fetch(`${gw.url}/api/governance/virtual-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'long-prompts',
        budgets: [{ max_limit: budget, reset_duration: '1d' }],
        provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
      }),
    })
    expect(created.status).toBe(200)
    const vk = ((await created.json()) as { virtual_key: { id: string; value: string } }).virtual_key

    let refused = 0
    const calls = prompts.map(async (content) => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-bf-vk': vk.value },
        body: JSON.stringify({
          model: `openai/${MODEL}`,
          messages: [{ role: 'user', content }],
          max_tokens: MAX_TOKENS,
        }),
      })
      await res.arrayBuffer()
      if (res.status === 402) refused++
      return res.status
    })
    // Every request decided (refused, or held at the provider) before any is settled.
    const deadline = Date.now() + 15_000
    while (refused + upstream.held() < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const admitted = upstream.held()
    upstream.releaseAll()
    const statuses = await Promise.all(calls)
    expect(statuses.filter((s) => s !== 200 && s !== 402)).toEqual([])
    expect(admitted + refused).toBe(N)

    const read = await fetch(`${gw.url}/api/governance/virtual-keys/${vk.id}`)
    const spent = ((await read.json()) as { virtual_key: { budgets: { current_usage: number }[] } })
      .virtual_key.budgets[0].current_usage
    const bound = budget + Math.max(...realCosts)
    console.log(
      `budget $${budget.toFixed(6)} (≈10 requests of $${meanCost.toFixed(6)}): ${admitted} of ${N} admitted, ` +
        `spent $${spent.toFixed(6)} = ${(spent / budget).toFixed(2)}× the budget; bound $${bound.toFixed(6)}`,
    )
    expect(spent).toBeLessThanOrEqual(bound + 1e-9)
  })
})
