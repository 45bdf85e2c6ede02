export { RoutingRuntime, ROUTING_RULES_TOPIC, type RoutingRuntimeOptions } from './runtime.js'
export { routingInfoHeaders, routingInfoJson } from './info.js'
export { RULE_SCOPES, type RoutingRule, type RoutingTarget, type RuleScope } from './rule.js'
export type { RoutingFacts } from './plugin.js'
