import type { ReasoningDetail } from '../schemas/index.js'

/**
 * Signed reasoning (Anthropic thinking signatures, redacted thinking, Gemini thought signatures on
 * tool calls) must come back byte for byte on the next turn, or the provider rejects the request.
 * The Responses API gives clients one opaque field they echo back: a reasoning item's
 * `encrypted_content`. We pack what the chat side produced into it and unpack it on the way in.
 */
export interface ReasoningCarrier {
  /** The assistant message's reasoning_details, exactly as the provider gave them. */
  details?: ReasoningDetail[]
  /** Each tool call's `extra_content` (Gemini's thought signature), by tool call id. */
  tool_calls?: Record<string, Record<string, unknown>>
}

const PREFIX = 'heimdall.reasoning.v1:'

export function writeReasoningCarrier(carrier: ReasoningCarrier): string {
  return PREFIX + Buffer.from(JSON.stringify(carrier), 'utf8').toString('base64url')
}

/** The carrier inside `encrypted_content`, or undefined when it is someone else's (e.g. OpenAI's own). */
export function readReasoningCarrier(encrypted: string): ReasoningCarrier | undefined {
  if (!encrypted.startsWith(PREFIX)) return undefined
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(encrypted.slice(PREFIX.length), 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
  if (!isRecord(value)) return undefined
  const carrier: ReasoningCarrier = {}
  if (Array.isArray(value.details)) {
    carrier.details = value.details.filter(
      (d): d is ReasoningDetail => isRecord(d) && typeof d.type === 'string',
    )
  }
  if (isRecord(value.tool_calls)) {
    const calls: Record<string, Record<string, unknown>> = {}
    for (const [id, extra] of Object.entries(value.tool_calls)) if (isRecord(extra)) calls[id] = extra
    carrier.tool_calls = calls
  }
  return carrier
}

/** Whether these details hold anything the provider signed, which text alone cannot restore. */
export function hasSignedReasoning(details: readonly ReasoningDetail[]): boolean {
  return details.some((d) => Boolean(d.signature) || Boolean(d.data))
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
