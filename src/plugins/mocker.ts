import { Type, type Static } from '@sinclair/typebox'
import type { GatewayContext } from '../core/context.js'
import type { GatewayPlugin, PluginRequest, PreHookResult } from '../core/plugins.js'
import type { ChatResponse, Usage } from '../core/schemas/index.js'
import { timeOrderedId } from '../core/time-ordered-id.js'

/** A Go `time.Duration` as Bifrost writes it (nanoseconds), or a string such as "150ms" or "2s". */
const DurationSchema = Type.Union([
  Type.Integer({ minimum: 0 }),
  Type.String({ pattern: '^\\d+(\\.\\d+)?(ns|us|µs|ms|s|m)$' }),
])

const LatencySchema = Type.Object({
  type: Type.Union([Type.Literal('fixed'), Type.Literal('uniform')]),
  min: DurationSchema,
  max: Type.Optional(DurationSchema),
})

const UsageSchema = Type.Object({
  prompt_tokens: Type.Optional(Type.Integer({ minimum: 0 })),
  completion_tokens: Type.Optional(Type.Integer({ minimum: 0 })),
  total_tokens: Type.Optional(Type.Integer({ minimum: 0 })),
})

const ResponseSchema = Type.Object({
  type: Type.Union([Type.Literal('success'), Type.Literal('error')]),
  weight: Type.Optional(Type.Number({ minimum: 0 })),
  content: Type.Optional(
    Type.Object({
      message: Type.Optional(Type.String()),
      message_template: Type.Optional(Type.String()),
      model: Type.Optional(Type.String()),
      usage: Type.Optional(UsageSchema),
      finish_reason: Type.Optional(Type.String()),
      custom_fields: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  ),
  error: Type.Optional(
    Type.Object({
      message: Type.String({ minLength: 1 }),
      type: Type.Optional(Type.String()),
      code: Type.Optional(Type.String()),
      status_code: Type.Optional(Type.Integer({ minimum: 400, maximum: 599 })),
    }),
  ),
  allow_fallbacks: Type.Optional(Type.Boolean()),
})

const RuleSchema = Type.Object({
  name: Type.String({ minLength: 1 }),
  enabled: Type.Optional(Type.Boolean()),
  priority: Type.Optional(Type.Integer({ minimum: -1000, maximum: 1000 })),
  probability: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  conditions: Type.Optional(
    Type.Object({
      providers: Type.Optional(Type.Array(Type.String())),
      models: Type.Optional(Type.Array(Type.String())),
      message_regex: Type.Optional(Type.String()),
      request_size: Type.Optional(
        Type.Object({ min: Type.Integer({ minimum: 0 }), max: Type.Integer({ minimum: 0 }) }),
      ),
    }),
  ),
  responses: Type.Array(ResponseSchema, { minItems: 1 }),
  latency: Type.Optional(LatencySchema),
})

/** Bifrost's mocker configuration (`plugins[].config` of the entry named `mocker`). */
export const MockerConfigSchema = Type.Object({
  enabled: Type.Optional(Type.Boolean()),
  default_behavior: Type.Optional(
    Type.Union([Type.Literal('passthrough'), Type.Literal('success'), Type.Literal('error')]),
  ),
  global_latency: Type.Optional(LatencySchema),
  rules: Type.Optional(Type.Array(RuleSchema)),
})

export type MockerConfig = Static<typeof MockerConfigSchema>
type MockRule = Static<typeof RuleSchema>
type MockResponse = Static<typeof ResponseSchema>
type Latency = Static<typeof LatencySchema>

const DEFAULT_MESSAGE = 'This is a mock response from the Mocker plugin'

interface CompiledRule extends MockRule {
  regex?: RegExp
}

/**
 * Answers matching requests without a provider call: the first enabled rule, by priority, whose
 * conditions match, picks one of its responses by weight (a message, a template with
 * `{{provider}}` and `{{model}}`, or an error), after its latency. Streams are streamed.
 */
export function createMocker(config: MockerConfig): GatewayPlugin {
  const rules: CompiledRule[] = (config.rules ?? [])
    .map((r) => ({ ...r, regex: compileRegex(r) }))
    .sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0))
  if (rules.length === 0 && config.enabled !== false) {
    rules.push({
      name: 'default-mock',
      responses: [{ type: 'success', content: { message: DEFAULT_MESSAGE } }],
    })
  }
  const maxLatencyMs = Math.max(
    latencyBoundMs(config.global_latency),
    ...rules.map((r) => latencyBoundMs(r.latency)),
  )
  return {
    name: 'mocker',
    timeoutMs: maxLatencyMs + 30_000,
    async preHook(ctx, request): Promise<PreHookResult | undefined> {
      if (config.enabled === false || !mockable(ctx)) return undefined
      const { provider, model } = splitModel(request.model)
      const rule = rules.find((r) => matches(r, request, provider, model))
      let response: MockResponse
      if (rule) response = pickResponse(rule.responses)
      else if (config.default_behavior === 'success')
        response = { type: 'success', content: { message: DEFAULT_MESSAGE } }
      else if (config.default_behavior === 'error')
        response = { type: 'error', error: { message: 'mocker: no rule matched this request' } }
      else return undefined
      await sleep(latencyMs(rule?.latency ?? config.global_latency))
      ctx.facts.mockRule = rule?.name ?? 'default_behavior'
      if (response.type === 'error') {
        return { shortCircuit: { error: response.error ?? { message: 'mock error' } } }
      }
      return { shortCircuit: { response: mockAnswer(response, provider, model) } }
    },
  }
}

/** Chat-shaped requests only: their answer is a chat completion, converted for the route. */
function mockable(ctx: GatewayContext): boolean {
  const t = ctx.requestType
  return t.startsWith('chat_completion') || t.startsWith('text_completion') || t.startsWith('responses')
}

function splitModel(full: string): { provider: string; model: string } {
  const slash = full.indexOf('/')
  return slash > 0
    ? { provider: full.slice(0, slash), model: full.slice(slash + 1) }
    : { provider: '', model: full }
}

function matches(rule: CompiledRule, request: PluginRequest, provider: string, model: string): boolean {
  if (rule.enabled === false) return false
  const c = rule.conditions ?? {}
  if (c.providers?.length && !c.providers.includes(provider)) return false
  if (c.models?.length && !c.models.includes(model) && !c.models.includes(request.model)) return false
  if (rule.regex && !rule.regex.test(requestText(request))) return false
  if (c.request_size) {
    const size = Buffer.byteLength(JSON.stringify(request))
    if (size < c.request_size.min || size > c.request_size.max) return false
  }
  const p = rule.probability ?? 1
  return p >= 1 || Math.random() < p
}

/** The request's text (messages, prompt, input), for `message_regex`. */
function requestText(request: PluginRequest): string {
  const out: string[] = []
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v)
    else if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>
      walk(o.content ?? o.text)
    }
  }
  walk(request.messages ?? request.prompt ?? request.input)
  return out.join('\n')
}

function pickResponse(responses: MockResponse[]): MockResponse {
  const total = responses.reduce((s, r) => s + (r.weight || 1), 0)
  let x = Math.random() * total
  for (const r of responses) {
    x -= r.weight || 1
    if (x < 0) return r
  }
  return responses[responses.length - 1]
}

function mockAnswer(response: MockResponse, provider: string, model: string): ChatResponse {
  const c = response.content ?? {}
  const text = c.message_template
    ? c.message_template.replaceAll('{{provider}}', provider).replaceAll('{{model}}', model)
    : (c.message ?? DEFAULT_MESSAGE)
  const prompt = c.usage?.prompt_tokens ?? 10
  const completion = c.usage?.completion_tokens ?? 20
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: c.usage?.total_tokens ?? prompt + completion,
  }
  return {
    ...c.custom_fields,
    id: `chatcmpl-mock-${timeOrderedId()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: c.model ?? model,
    choices: [
      { index: 0, message: { role: 'assistant', content: text }, finish_reason: c.finish_reason ?? 'stop' },
    ],
    usage,
  }
}

function compileRegex(rule: MockRule): RegExp | undefined {
  const source = rule.conditions?.message_regex
  if (source === undefined) return undefined
  // Go's inline flags: `(?i)` at the start.
  const insensitive = source.startsWith('(?i)')
  try {
    return new RegExp(insensitive ? source.slice(4) : source, insensitive ? 'i' : '')
  } catch (err) {
    throw new Error(`rules.${rule.name}.conditions.message_regex: ${(err as Error).message}`)
  }
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000 }

function durationMs(d: number | string | undefined): number {
  if (d === undefined) return 0
  if (typeof d === 'number') return d / 1e6
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m)$/.exec(d)
  return m ? Number(m[1]) * UNIT_MS[m[2]] : 0
}

function latencyBoundMs(l: Latency | undefined): number {
  return l ? Math.max(durationMs(l.min), durationMs(l.max)) : 0
}

function latencyMs(l: Latency | undefined): number {
  if (!l) return 0
  const min = durationMs(l.min)
  if (l.type === 'fixed') return min
  const max = Math.max(min, durationMs(l.max))
  return min + Math.random() * (max - min)
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve()
}
