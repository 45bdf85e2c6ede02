import type { ChatRequest } from '../core/schemas/index.js'

/**
 * A reasoning signature that crosses a route of another family (Claude's thinking read through
 * GenAI or Bedrock Converse) comes back tagged with the route's format, and the provider that
 * signed it would drop it. The client keeps signatures opaque, so the origin rides in front of a
 * foreign one, and is read back when the client returns it.
 */

/** Reasoning the Anthropic adapter returns carries no format tag: untagged signatures are Claude's. */
const UNTAGGED_ORIGIN = 'anthropic-claude-v1'
const MARK = 'heimdall-origin.'

/** The signature as a route's client gets it: as it is when the route's own family made it. */
export function signatureForRoute(signature: string, origin: unknown, routeFormat: string): string {
  const from = typeof origin === 'string' ? origin : UNTAGGED_ORIGIN
  if (from === routeFormat || !signature) return signature
  return `${MARK}${Buffer.from(from, 'utf8').toString('base64url')}.${signature}`
}

/** A signature a client sent back, and the format of the provider that made it. */
export function signatureFromRoute(
  signature: string,
  routeFormat: string,
): { signature: string; format: string } {
  if (signature.startsWith(MARK)) {
    const dot = signature.indexOf('.', MARK.length)
    if (dot !== -1) {
      const format = Buffer.from(signature.slice(MARK.length, dot), 'base64url').toString('utf8')
      if (format) return { signature: signature.slice(dot + 1), format }
    }
  }
  return { signature, format: routeFormat }
}

/** Google's documented stand-in for a thought signature that was lost on the way. */
export const SKIP_SIGNATURE_VALIDATOR = 'skip_thought_signature_validator'

/** Gemini 3 and later refuse an unsigned first call; 2.5 signs, but does not ask for them back. */
export function requiresCallSignatures(model: string): boolean {
  const major = /(?:^|\/)gemini-(\d+)/.exec(model)?.[1]
  return major !== undefined && Number(major) >= 3
}

/**
 * Gemini 3 refuses a model turn whose first function call lost its thought signature. A route whose
 * format has no place for it on a call (Anthropic's, Bedrock's, Cohere's) cannot give it back, so
 * such a request for a Gemini target gets Google's stand-in there instead of a 400.
 */
export function standInCallSignatures(req: ChatRequest, model: string): ChatRequest {
  if (!requiresCallSignatures(model)) return req
  let changed = false
  const messages = req.messages.map((m) => {
    if (m.role !== 'assistant' || !m.tool_calls?.length) return m
    const [first, ...rest] = m.tool_calls
    const google = first.extra_content?.google as { thought_signature?: unknown } | undefined
    if (typeof google?.thought_signature === 'string') return m
    changed = true
    const signed = {
      ...first,
      extra_content: {
        ...first.extra_content,
        google: { ...google, thought_signature: SKIP_SIGNATURE_VALIDATOR },
      },
    }
    return { ...m, tool_calls: [signed, ...rest] }
  })
  return changed ? { ...req, messages } : req
}
