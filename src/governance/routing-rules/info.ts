import type { GatewayContext } from '../../core/context.js'

/** Bifrost's `routing_info`: what served the request, whether a fallback did, and which rule routed it. */
export function routingInfo(ctx: GatewayContext): Record<string, unknown> | undefined {
  if (!ctx.provider) return undefined
  const log = ctx.attemptLog
  const served = log.findLast((a) => a.error === undefined) ?? log[log.length - 1]
  const r = ctx.facts.routing
  const info: Record<string, unknown> = { provider: ctx.provider }
  if (ctx.model) info.model = ctx.model
  if (served && served.keyName !== 'keyless' && served.keyName !== 'direct') info.key = served.keyName
  if (ctx.fallbackIndex > 0) {
    info.is_fallback = true
    info.primary_provider = r?.primary_provider ?? log[0]?.provider
    info.primary_model = r?.primary_model ?? log[0]?.model
  }
  if (r?.rule_id) {
    info.rule_id = r.rule_id
    info.rule_name = r.rule_name
    if (r.rule_chain && r.rule_chain.length > 1) info.rule_chain = r.rule_chain
  }
  if (r?.session_pinned) info.session_pinned = true
  return info
}

/** `x-bifrost-routing-info-*` headers (Bifrost's names; `-rule-id`, `-rule-name`, `-session-pinned` are Heimdall's), added to `h`. */
export function routingInfoHeaders(
  ctx: GatewayContext,
  h: Record<string, string> = {},
): Record<string, string> {
  const info = routingInfo(ctx)
  if (!info) return h
  for (const k in info) {
    const v = info[k]
    if (v === undefined || v === null || v === '') continue
    const value = Array.isArray(v) ? v.join(',') : String(v)
    // Header values are latin1: a name outside it is sent percent-encoded.
    h[(HEADER_NAMES[k] ??= `x-bifrost-routing-info-${k.replace(/_/g, '-')}`)] = PRINTABLE_ASCII.test(value)
      ? value
      : encodeURIComponent(value)
  }
  return h
}

/** The header of each `routing_info` field, named once (the fields are a handful of fixed names). */
const HEADER_NAMES: Record<string, string> = Object.create(null) as Record<string, string>
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/

/** `,"routing_info":{...}` for a response's `extra_fields`, in ASCII JSON; empty when nothing served. */
export function routingInfoJson(ctx: GatewayContext): string {
  const info = routingInfo(ctx)
  if (!info) return ''
  const json = JSON.stringify(info).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
  return `,"routing_info":${json}`
}
