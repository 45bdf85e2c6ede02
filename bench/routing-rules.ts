/**
 * Micro-benchmark of routing rules (src/governance/routing-rules/engine.ts): µs per evaluation of
 * 10 compiled rules on a chat request, when the 10th matches (every rule evaluated), when the
 * first matches, and when none does; and what compiling the 10 costs (once per write or load).
 * `npx tsx bench/routing-rules.ts`.
 */
import { RoutingEngine, type RuleInput } from '../src/governance/routing-rules/engine.js'
import { ruleFromCreate, type RoutingRule } from '../src/governance/routing-rules/rule.js'

const expressions = [
  'headers["x-tier"] == "premium" && team_name == "research"',
  'model.startsWith("claude-") && customer_name == "acme"',
  'params["temperature"] > 0.9',
  'request_type == "embedding"',
  'virtual_key_name.startsWith("batch-")',
  'headers["x-region"] in ["eu", "uk"]',
  'provider == "anthropic" && model == "claude-opus-4"',
  'headers["x-app-version"].matches("^1\\\\.[0-9]+\\\\.[0-9]+$")',
  'team_id == "team-9" || customer_id == "cust-9"',
  'model == "gpt-4o" && headers["x-tier"] == "free"',
]

function rules(): RoutingRule[] {
  return expressions.map((cel_expression, i) =>
    ruleFromCreate({
      name: `rule-${i}`,
      scope: 'global',
      priority: i,
      cel_expression,
      targets: [
        { provider: 'openai', model: 'gpt-4o-mini', weight: 0.5 },
        { provider: 'groq', weight: 0.5 },
      ],
    }),
  )
}

function input(model: string, tier: string): RuleInput {
  return {
    model,
    provider: 'openai',
    requestType: 'chat_completion',
    headers: { 'x-tier': tier, 'content-type': 'application/json', 'user-agent': 'openai-node' },
    params: { temperature: 0.2, max_tokens: 512 },
    team: { id: 'team-1', name: 'search', budgets: [], created_at: '', updated_at: '' },
    capacity: async () => ({ budget_used: 0, tokens_used: 0, request: 0 }),
  }
}

async function time(name: string, engine: RoutingEngine, req: RuleInput, expect: string | undefined) {
  for (let i = 0; i < 2000; i++) await engine.evaluate(req)
  const n = 50_000
  const t0 = process.hrtime.bigint()
  let last
  for (let i = 0; i < n; i++) last = await engine.evaluate(req)
  const us = Number(process.hrtime.bigint() - t0) / n / 1000
  if (last?.rule.name !== expect) throw new Error(`${name}: matched ${last?.rule.name}, expected ${expect}`)
  console.log(`${name.padEnd(40)} ${us.toFixed(2).padStart(7)} µs/evaluation`)
}

const list = rules()
const c0 = process.hrtime.bigint()
const engine = new RoutingEngine()
for (let i = 0; i < 100; i++) engine.load(list)
console.log(
  `compiling and loading 10 rules: ${(Number(process.hrtime.bigint() - c0) / 100 / 1000).toFixed(0)} µs`,
)
await time('10 rules, the 10th matches', engine, input('gpt-4o', 'free'), 'rule-9')
await time(
  '10 rules, the 1st matches',
  engine,
  {
    ...input('gpt-4o', 'premium'),
    team: { id: 't', name: 'research', budgets: [], created_at: '', updated_at: '' },
  },
  'rule-0',
)
await time('10 rules, none matches', engine, input('gpt-4o-mini', 'free'), undefined)
