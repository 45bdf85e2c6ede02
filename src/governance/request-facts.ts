import type { RequestCost } from '../core/pricing.js'
import type { VirtualKeyRecord } from './model.js'

// Governance's facts about a request, typed for the plugins that read them (logging, metrics,
// tracing, MCP): no cast of a string-keyed state.
declare module '../core/plugins.js' {
  interface RequestFacts {
    /** The caller's virtual key, once governance authenticated it. */
    virtualKey?: VirtualKeyRecord
    /** What the request cost, once it ended. */
    cost?: RequestCost
  }
}
