/**
 * Micro-benchmark of the admission estimate (src/governance/pricing/token-estimate.ts): µs per
 * estimate of a typical chat body (about 1.5 KB) and of a 50 KB one, for an o200k model, a cl100k
 * model, a model without a public tokenizer (calibrated count) and the old character count (no
 * model); and what loading each encoding costs the first request. `npx tsx bench/token-estimate.ts`.
 */
import { estimateTokens, type TokenEstimateRequest } from '../src/governance/pricing/index.js'

const prose =
  'The quarterly report shows revenue growth in every region, led by the enterprise segment. ' +
  'Please summarise the main drivers, list the risks the finance team raised, and suggest next steps. '
const code =
  'export async function retry<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {\n' +
  '  for (let i = 0; ; i++) {\n    try { return await fn() } catch (err) { if (i + 1 >= attempts) throw err }\n  }\n}\n'

function chatBody(chars: number, salt: number): TokenEstimateRequest {
  let user = ''
  while (user.length < chars) user += (user.length / 2) % 2 < 1 ? prose : code
  return {
    messages: [
      { role: 'system', content: `You are a careful assistant. Request ${salt}.` },
      { role: 'user', content: user.slice(0, chars) },
    ],
    max_tokens: 512,
  }
}

function time(name: string, bodies: TokenEstimateRequest[], model: string | undefined): void {
  const opts = model === undefined ? {} : { model }
  for (let i = 0; i < 200; i++) estimateTokens(bodies[i % bodies.length], opts)
  const n = 2000
  const t0 = process.hrtime.bigint()
  let prompt = 0
  for (let i = 0; i < n; i++) prompt = estimateTokens(bodies[i % bodies.length], opts).prompt
  const us = Number(process.hrtime.bigint() - t0) / n / 1000
  console.log(`${name.padEnd(44)} ${us.toFixed(1).padStart(8)} µs/estimate  (prompt ≈ ${prompt} tokens)`)
}

for (const model of ['gpt-4o', 'gpt-4']) {
  const t0 = process.hrtime.bigint()
  estimateTokens(chatBody(100, 0), { model })
  console.log(
    `first estimate for ${model} (loads its encoding): ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms`,
  )
}

const small = Array.from({ length: 64 }, (_, i) => chatBody(1400, i))
const large = Array.from({ length: 16 }, (_, i) => chatBody(50 * 1024, i))
console.log(`bodies: ${JSON.stringify(small[0]).length} B and ${JSON.stringify(large[0]).length} B`)
for (const [label, bodies] of [
  ['1.5 KB', small],
  ['50 KB', large],
] as const) {
  time(`${label} gpt-4o (o200k_base)`, bodies, 'gpt-4o')
  time(`${label} gpt-4 (cl100k_base)`, bodies, 'gpt-4')
  time(`${label} claude-sonnet-4 (calibrated)`, bodies, 'claude-sonnet-4')
  time(`${label} no model (old character count)`, bodies, undefined)
}
