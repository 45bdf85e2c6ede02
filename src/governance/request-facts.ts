import type { VirtualKeyRecord } from './model.js'

/** What a request cost, as governance priced it at the end. */
export interface RequestCost {
  cost: number
  /** Priced from estimated tokens (the provider sent no usage). */
  estimated: boolean
  /** Whether a price was known for the model (else `cost` is 0 and means nothing). */
  priced: boolean
}

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
