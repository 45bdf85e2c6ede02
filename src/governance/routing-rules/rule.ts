import { randomUUID } from 'node:crypto'
import { parse } from '@marcbachmann/cel-js'
import { GatewayError } from '../../core/errors.js'

export type RuleScope = 'global' | 'customer' | 'team' | 'virtual_key'
export const RULE_SCOPES: readonly RuleScope[] = ['virtual_key', 'team', 'customer', 'global']

/** One weighted destination of a rule; a null provider or model keeps the request's own. */
export interface RoutingTarget {
  provider: string | null
  model: string | null
  /** A provider key to pin (its id); null lets key selection choose. */
  key_id: string | null
  weight: number
}

/** Bifrost's routing rule, as the API shows it. */
export interface RoutingRule {
  id: string
  name: string
  description: string
  enabled: boolean
  cel_expression: string
  targets: RoutingTarget[]
  /** `provider/model` strings tried after the chosen target. */
  fallbacks: string[]
  scope: RuleScope
  scope_id: string | null
  priority: number
  query: Record<string, unknown> | null
  chain_rule: boolean
  created_at: string
  updated_at: string
}

/** A rule with its expression compiled once, for the hot path. */
export interface CompiledRule {
  rule: RoutingRule
  matches: (vars: Record<string, unknown>) => unknown
  /** Whether the expression reads budget_used, tokens_used or request (read from the counters). */
  readsCapacity: boolean
  /** The header names the expression reads as `headers["…"]`, as written. */
  headerNames: string[]
}

const CAPACITY_VARS = /\b(budget_used|tokens_used|request)\b/
const HEADER_NAMES = /\bheaders\s*\[\s*(?:"([^"\\]+)"|'([^'\\]+)')\s*\]/g

type Obj = Record<string, unknown>

function bad(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param, retryable: false })
}

/** Compiles a CEL expression, or a 400 naming where it fails. */
export function compileExpression(expr: string, param = 'cel_expression'): CompiledRule['matches'] {
  // Bifrost: an empty expression always matches.
  if (expr.trim() === '') return () => true
  try {
    return parse(expr)
  } catch (err) {
    const e = err as { summary?: string; message?: string; node?: { pos?: number } }
    const pos = e.node?.pos
    const summary = e.summary ?? e.message?.split('\n')[0] ?? 'invalid expression'
    throw bad(`invalid ${param}${pos !== undefined ? ` at position ${pos}` : ''}: ${summary}`, param)
  }
}

export function compileRule(rule: RoutingRule): CompiledRule {
  return {
    rule,
    matches: compileExpression(rule.cel_expression),
    readsCapacity: CAPACITY_VARS.test(rule.cel_expression),
    headerNames: [...rule.cel_expression.matchAll(HEADER_NAMES)].map((m) => m[1] ?? m[2]),
  }
}

function text(body: Obj, field: string, required: boolean): string | undefined {
  const v = body[field]
  if (v === undefined || v === null) {
    if (required) throw bad(`${field} is required`, field)
    return undefined
  }
  if (typeof v !== 'string') throw bad(`${field} must be a string`, field)
  return v
}

function targetsOf(value: unknown): RoutingTarget[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw bad('targets must be a non-empty array of {provider, model, key_id, weight}', 'targets')
  }
  let sum = 0
  const out = value.map((t: unknown, i): RoutingTarget => {
    const param = `targets[${i}]`
    if (!t || typeof t !== 'object' || Array.isArray(t)) throw bad(`${param} must be an object`, param)
    const o = t as Obj
    const field = (name: string): string | null => {
      const v = o[name]
      if (v === undefined || v === null || v === '') return null
      if (typeof v !== 'string') throw bad(`${param}.${name} must be a string`, `${param}.${name}`)
      return v
    }
    const weight = o.weight
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
      throw bad(`${param}.weight must be a number above 0`, `${param}.weight`)
    }
    sum += weight
    const target = { provider: field('provider'), model: field('model'), key_id: field('key_id'), weight }
    if (target.key_id && !target.provider) {
      throw bad(`${param}.key_id needs ${param}.provider`, `${param}.key_id`)
    }
    return target
  })
  if (Math.abs(sum - 1) > 1e-6) {
    throw bad(`targets' weights must sum to 1 (they sum to ${Number(sum.toFixed(6))})`, 'targets')
  }
  return out
}

function fallbacksOf(value: unknown): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw bad('fallbacks must be an array of "provider/model" strings', 'fallbacks')
  return value.map((f: unknown, i) => {
    if (typeof f === 'string' && f.includes('/')) return f
    const o = f as Obj | null
    if (o && typeof o === 'object' && typeof o.provider === 'string' && o.provider) {
      return `${o.provider}/${typeof o.model === 'string' ? o.model : ''}`
    }
    throw bad(`fallbacks[${i}] must be a "provider/model" string`, `fallbacks[${i}]`)
  })
}

function scopeOf(body: Obj): { scope: RuleScope; scope_id: string | null } {
  const scope = body.scope ?? 'global'
  if (typeof scope !== 'string' || !(RULE_SCOPES as readonly string[]).includes(scope)) {
    throw bad('scope must be one of global, customer, team, virtual_key', 'scope')
  }
  const id = text(body, 'scope_id', false) || null
  if (scope !== 'global' && !id) throw bad(`scope_id is required for scope ${scope}`, 'scope_id')
  return { scope: scope as RuleScope, scope_id: scope === 'global' ? null : id }
}

function priorityOf(value: unknown): number {
  if (value === undefined || value === null) return 0
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw bad('priority must be an integer', 'priority')
  return value
}

function boolOf(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'boolean') throw bad(`${field} must be true or false`, field)
  return value
}

function queryOf(value: unknown): Obj | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'object' || Array.isArray(value)) throw bad('query must be an object', 'query')
  return value as Obj
}

function asObject(body: unknown): Obj {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw bad('the body must be a JSON object', 'body')
  }
  return body as Obj
}

/** A new rule from a create body (or a config.json entry), validated and its expression compiled. */
export function ruleFromCreate(input: unknown, now = new Date().toISOString()): RoutingRule {
  const body = asObject(input)
  const name = text(body, 'name', true)!.trim()
  if (!name) throw bad('name must not be empty', 'name')
  const rule: RoutingRule = {
    id: text(body, 'id', false) || randomUUID(),
    name,
    description: text(body, 'description', false) ?? '',
    enabled: boolOf(body.enabled, 'enabled', true),
    cel_expression: text(body, 'cel_expression', false) ?? '',
    targets: targetsOf(body.targets),
    fallbacks: fallbacksOf(body.fallbacks),
    ...scopeOf(body),
    priority: priorityOf(body.priority),
    query: queryOf(body.query),
    chain_rule: boolOf(body.chain_rule, 'chain_rule', false),
    created_at: now,
    updated_at: now,
  }
  compileExpression(rule.cel_expression)
  return rule
}

/** An existing rule with an update body's fields applied (all optional; targets replace). */
export function ruleFromUpdate(
  current: RoutingRule,
  input: unknown,
  now = new Date().toISOString(),
): RoutingRule {
  const body = asObject(input)
  const next: RoutingRule = { ...current, updated_at: now }
  if (body.name !== undefined) {
    next.name = text(body, 'name', true)!.trim()
    if (!next.name) throw bad('name must not be empty', 'name')
  }
  if (body.description !== undefined) next.description = text(body, 'description', false) ?? ''
  if (body.enabled !== undefined) next.enabled = boolOf(body.enabled, 'enabled', current.enabled)
  if (body.cel_expression !== undefined) next.cel_expression = text(body, 'cel_expression', false) ?? ''
  if (body.targets !== undefined) next.targets = targetsOf(body.targets)
  if (body.fallbacks !== undefined) next.fallbacks = fallbacksOf(body.fallbacks)
  if (body.scope !== undefined || body.scope_id !== undefined) {
    Object.assign(next, scopeOf({ scope: current.scope, scope_id: current.scope_id, ...body }))
  }
  if (body.priority !== undefined) next.priority = priorityOf(body.priority)
  if (body.query !== undefined) next.query = queryOf(body.query)
  if (body.chain_rule !== undefined) next.chain_rule = boolOf(body.chain_rule, 'chain_rule', false)
  compileExpression(next.cel_expression)
  return next
}
