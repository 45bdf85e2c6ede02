import type { GatewayContext } from './context.js'

/**
 * Which of Bifrost's routing engines chose where a request went, in the order they acted; the
 * request log keeps them comma-joined as `routing_engine_used` (Bifrost's
 * BifrostContextKeyRoutingEnginesUsed): `governance` (a virtual key's provider weights picked the
 * provider), `routing-rule` (a routing rule or a session pin routed it), `loadbalancing` (adaptive
 * load balancing weighed providers or keys by their observed latency and errors).
 */
export const ROUTING_ENGINES = ['governance', 'routing-rule', 'loadbalancing'] as const
export type RoutingEngine = (typeof ROUTING_ENGINES)[number]

declare module './plugins.js' {
  interface RequestFacts {
    routingEngines?: RoutingEngine[]
  }
}

/** Records that `engine` made a routing decision for this request (once, in order). */
export function noteRoutingEngine(ctx: Pick<GatewayContext, 'facts'>, engine: RoutingEngine): void {
  const used = (ctx.facts.routingEngines ??= [])
  if (!used.includes(engine)) used.push(engine)
}
