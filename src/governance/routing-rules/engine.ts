import type { Customer, Team, VirtualKeyRecord } from '../model.js'
import { compileRule, RULE_SCOPES, type CompiledRule, type RoutingRule, type RoutingTarget } from './rule.js'

/** Percentages (0–100, above 100 when exhausted) of the limits that apply to a provider and model. */
export interface Capacity {
  budget_used: number
  tokens_used: number
  request: number
}

export interface RuleInput {
  model: string
  provider: string
  requestType: string
  headers: Record<string, string>
  params: Record<string, unknown>
  virtualKey?: VirtualKeyRecord
  team?: Team
  customer?: Customer
  /** Read only when a rule on the way reads budget_used, tokens_used or request. */
  capacity: (provider: string, model: string) => Promise<Capacity>
}

/** Where the rules send a request, and which rule (the last of a chain) decided. */
export interface RoutingDecision {
  rule: RoutingRule
  provider: string
  model: string
  keyId: string | null
  fallbacks: string[]
  /** The ids of the rules that matched, in order (more than one when rules chain). */
  chain: string[]
}

export const DEFAULT_CHAIN_MAX_DEPTH = 10

const ZERO: Capacity = { budget_used: 0, tokens_used: 0, request: 0 }

/**
 * The rules in memory, compiled once when loaded, grouped by scope and sorted by priority.
 * Evaluation: VK → team → customer → global, ascending priority, first match wins; a matching
 * `chain_rule` evaluates again on the rewritten provider and model, up to the depth limit.
 */
export class RoutingEngine {
  private byScope = new Map<string, CompiledRule[]>()
  private count = 0
  /** Every header name the rules read, as written: a header the request lacks reads as "". */
  private headerNames: string[] = []

  constructor(private readonly maxDepth: () => number = () => DEFAULT_CHAIN_MAX_DEPTH) {}

  /** Replaces every rule; a rule whose expression no longer compiles is left out and reported. */
  load(rules: readonly RoutingRule[], onInvalid?: (rule: RoutingRule, err: Error) => void): void {
    const byScope = new Map<string, CompiledRule[]>()
    let count = 0
    for (const rule of rules) {
      if (!rule.enabled) continue
      let compiled: CompiledRule
      try {
        compiled = compileRule(rule)
      } catch (err) {
        onInvalid?.(rule, err as Error)
        continue
      }
      const key = scopeKey(rule.scope, rule.scope_id)
      let list = byScope.get(key)
      if (!list) byScope.set(key, (list = []))
      list.push(compiled)
      count++
    }
    for (const list of byScope.values()) list.sort((a, b) => a.rule.priority - b.rule.priority)
    this.headerNames = [...new Set([...byScope.values()].flat().flatMap((c) => c.headerNames))]
    this.byScope = byScope
    this.count = count
  }

  get size(): number {
    return this.count
  }

  async evaluate(input: RuleInput): Promise<RoutingDecision | undefined> {
    if (this.count === 0) return undefined
    const chainScopes = this.scopes(input)
    if (chainScopes.length === 0) return undefined
    const vars: Record<string, unknown> = {
      model: input.model,
      provider: input.provider,
      request_type: input.requestType,
      headers: this.headerNames.length > 0 ? withReadHeaders(input.headers, this.headerNames) : input.headers,
      params: input.params,
      virtual_key_id: input.virtualKey?.id ?? '',
      virtual_key_name: input.virtualKey?.name ?? '',
      team_id: input.team?.id ?? '',
      team_name: input.team?.name ?? '',
      customer_id: input.customer?.id ?? '',
      customer_name: input.customer?.name ?? '',
      ...ZERO,
    }
    let decision: RoutingDecision | undefined
    const max = Math.max(1, this.maxDepth())
    for (let depth = 0; depth < max; depth++) {
      let capacityRead = false
      let matched: CompiledRule | undefined
      outer: for (const list of chainScopes) {
        for (const c of list) {
          if (c.readsCapacity && !capacityRead) {
            Object.assign(vars, await input.capacity(vars.provider as string, vars.model as string))
            capacityRead = true
          }
          if (matchesSafely(c, vars)) {
            matched = c
            break outer
          }
        }
      }
      if (!matched) break
      const target = pickTarget(matched.rule.targets)
      const provider = target.provider ?? (vars.provider as string)
      const model = target.model ?? (vars.model as string)
      const converged = provider === vars.provider && model === vars.model
      decision = {
        rule: matched.rule,
        provider,
        model,
        keyId: target.key_id,
        fallbacks: matched.rule.fallbacks,
        chain: [...(decision?.chain ?? []), matched.rule.id],
      }
      if (!matched.rule.chain_rule || converged) break
      vars.provider = provider
      vars.model = model
    }
    return decision
  }

  private scopes(input: RuleInput): CompiledRule[][] {
    const out: CompiledRule[][] = []
    const ids: Record<string, string | undefined> = {
      virtual_key: input.virtualKey?.id,
      team: input.team?.id,
      customer: input.customer?.id,
    }
    for (const scope of RULE_SCOPES) {
      if (scope !== 'global' && !ids[scope]) continue
      const list = this.byScope.get(scopeKey(scope, scope === 'global' ? null : ids[scope]!))
      if (list) out.push(list)
    }
    return out
  }
}

/**
 * The request's headers (names in lower case) with each header a rule reads present under the
 * name as written: "" when the request lacks it, as in Bifrost (`headers["x"] != ""` tests presence),
 * and found whatever the case the rule wrote it in.
 */
function withReadHeaders(headers: Record<string, string>, names: readonly string[]): Record<string, string> {
  const out = { ...headers }
  for (const name of names) out[name] = headers[name.toLowerCase()] ?? ''
  return out
}

function scopeKey(scope: string, id: string | null): string {
  return `${scope}\u0000${id ?? ''}`
}

/** A missing header or parameter, or a type mismatch, is a non-match (as in Bifrost), never a failed request. */
function matchesSafely(c: CompiledRule, vars: Record<string, unknown>): boolean {
  try {
    return c.matches(vars) === true
  } catch {
    return false
  }
}

export function pickTarget(
  targets: readonly RoutingTarget[],
  random: () => number = Math.random,
): RoutingTarget {
  if (targets.length === 1) return targets[0]
  const total = targets.reduce((n, t) => n + t.weight, 0)
  let r = random() * total
  for (const t of targets) {
    r -= t.weight
    if (r < 0) return t
  }
  return targets[targets.length - 1]
}
