import { GatewayError } from '../../core/errors.js'
import type { GovernanceState } from '../state.js'
import type { RoutingPlugin } from './plugin.js'

/**
 * Heimdall's rule tester (`POST /api/routing/rules/test`, not Bifrost's): which rule a sample
 * request would match and where it would go, evaluated by the rules in memory, nothing sent.
 */
export interface RuleTestResult {
  matched: boolean
  rule?: { id: string; name: string; scope: string; scope_id: string | null; priority: number }
  /** Every rule that matched, in order (more than one when rules chain). */
  chain: { id: string; name: string }[]
  /** Where the request would go: the rule's target, else what it would get without rules. */
  target: { provider: string; model: string; key_id: string | null } | null
  fallbacks: string[]
  /** What the request gets without rules (its model, or its virtual key's weighted choice). */
  without_rules: { provider: string; model: string } | null
}

function invalid(message: string, param: string): never {
  throw new GatewayError('invalid_request', message, { param })
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export async function testRules(
  plugin: RoutingPlugin,
  state: GovernanceState,
  rulesById: (id: string) => { name: string } | undefined,
  body: unknown,
): Promise<RuleTestResult> {
  if (!isObject(body)) invalid('the body must be a JSON object with a request', 'request')
  const request = body.request
  if (!isObject(request))
    invalid('request must be the JSON body of a request, e.g. {"model": "openai/gpt-4o"}', 'request')
  if (typeof request.model !== 'string' || request.model.trim() === '')
    invalid('request.model must name a model, e.g. "openai/gpt-4o"', 'request.model')
  const headers: Record<string, string> = {}
  if (body.headers !== undefined) {
    if (!isObject(body.headers)) invalid('headers must be an object of header names and values', 'headers')
    for (const [name, value] of Object.entries(body.headers)) {
      if (typeof value !== 'string') invalid(`header ${name} must be a string`, `headers.${name}`)
      headers[name.toLowerCase()] = value
    }
  }
  const requestType = body.request_type ?? 'chat_completion'
  if (typeof requestType !== 'string' || requestType === '')
    invalid('request_type must be a request type such as chat_completion', 'request_type')
  let virtualKey
  if (body.virtual_key_id !== undefined && body.virtual_key_id !== null && body.virtual_key_id !== '') {
    if (typeof body.virtual_key_id !== 'string') invalid('virtual_key_id must be a string', 'virtual_key_id')
    virtualKey = state.virtualKey(body.virtual_key_id)
    if (!virtualKey) invalid(`virtual key ${body.virtual_key_id} not found`, 'virtual_key_id')
  }
  const { decision, base } = await plugin.dryRun({ body: request, headers, requestType, virtualKey })
  const withoutRules = base?.[0] ? { provider: base[0].provider, model: base[0].model } : null
  if (!decision) {
    return {
      matched: false,
      chain: [],
      target: withoutRules && { ...withoutRules, key_id: null },
      fallbacks: (base ?? []).slice(1).map((t) => `${t.provider}/${t.model}`),
      without_rules: withoutRules,
    }
  }
  const r = decision.rule
  return {
    matched: true,
    rule: { id: r.id, name: r.name, scope: r.scope, scope_id: r.scope_id, priority: r.priority },
    chain: decision.chain.map((id) => ({ id, name: rulesById(id)?.name ?? id })),
    target: { provider: decision.provider, model: decision.model, key_id: decision.keyId },
    fallbacks: decision.fallbacks,
    without_rules: withoutRules,
  }
}
