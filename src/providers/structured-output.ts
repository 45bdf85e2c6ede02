import { GatewayError } from '../core/errors.js'
import type { ChatResponse, ToolCallDelta } from '../core/schemas/index.js'
import type { ChatStreamItem } from '../core/provider-adapter.js'

/** OpenAI's `response_format`, read once for providers that express it in their own terms. */
export type StructuredFormat =
  | {
      type: 'json_schema'
      name: string
      schema: Record<string, unknown>
      description?: string
      strict?: boolean
    }
  | { type: 'json_object' }

/**
 * What a provider without a JSON mode is told for `json_object`: OpenAI's own JSON mode is likewise
 * a promise of syntax, not of shape, and asks the prompt to mention JSON.
 */
export const JSON_OBJECT_INSTRUCTION =
  'Respond with a single valid JSON object and nothing else: no prose, no Markdown code fences.'

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * `response_format` as a structured-output request, or undefined for none or `text`. A format that
 * cannot be applied is refused rather than silently dropped.
 */
export function structuredFormatOf(responseFormat: unknown): StructuredFormat | undefined {
  if (responseFormat == null) return undefined
  if (!isRecord(responseFormat) || typeof responseFormat.type !== 'string')
    throw invalid('response_format must be an object with a type')
  switch (responseFormat.type) {
    case 'text':
      return undefined
    case 'json_object':
      return { type: 'json_object' }
    case 'json_schema': {
      const spec = responseFormat.json_schema
      if (!isRecord(spec) || !isRecord(spec.schema))
        throw invalid('response_format.json_schema.schema must be a JSON Schema object')
      const out: StructuredFormat = {
        type: 'json_schema',
        name: typeof spec.name === 'string' && spec.name ? spec.name : 'response',
        schema: spec.schema,
      }
      if (typeof spec.description === 'string') out.description = spec.description
      if (typeof spec.strict === 'boolean') out.strict = spec.strict
      return out
    }
    default:
      throw invalid(
        `response_format.type ${JSON.stringify(responseFormat.type)} is not one of text, json_object, json_schema`,
      )
  }
}

function invalid(message: string): GatewayError {
  return new GatewayError('invalid_request', message, { param: 'response_format' })
}

/**
 * Where a provider has no structured outputs (Claude on Vertex), the schema becomes a tool the
 * model is made to call, as Bifrost does; its arguments are the answer.
 */
export function structuredOutputTool(format: StructuredFormat & { type: 'json_schema' }): {
  name: string
  description: string
  input_schema: Record<string, unknown>
} {
  return {
    name: format.name,
    description: format.description ?? 'Returns the answer as structured JSON output',
    input_schema: format.schema,
  }
}

/** A response whose answer came as a call of the structured-output tool, with that call as its text. */
export function structuredToolToText(body: ChatResponse, tool: string): ChatResponse {
  for (const choice of body.choices) {
    const calls = choice.message.tool_calls ?? []
    const at = calls.findIndex((c) => c.function.name === tool)
    if (at === -1) continue
    choice.message.content = (choice.message.content ?? '') + calls[at].function.arguments
    calls.splice(at, 1)
    if (!calls.length) {
      delete choice.message.tool_calls
      if (choice.finish_reason === 'tool_calls') choice.finish_reason = 'stop'
    }
  }
  return body
}

/** A stream whose answer comes as the structured-output tool's arguments, as content deltas instead. */
export async function* structuredToolStreamToText(
  items: AsyncIterable<ChatStreamItem>,
  tool: string,
): AsyncIterable<ChatStreamItem> {
  // Tool-call indices (per choice) that belong to the structured-output tool.
  const structured = new Set<string>()
  const others = new Set<number>()
  for await (const item of items) {
    for (const choice of item.chunk?.choices ?? []) {
      const calls = choice.delta.tool_calls
      if (calls) {
        const kept: ToolCallDelta[] = []
        for (const call of calls) {
          const key = `${choice.index}:${call.index}`
          if (call.function?.name === tool) structured.add(key)
          if (!structured.has(key)) {
            kept.push(call)
            others.add(choice.index)
          } else if (call.function?.arguments) {
            choice.delta.content = (choice.delta.content ?? '') + call.function.arguments
          }
        }
        if (kept.length) choice.delta.tool_calls = kept
        else delete choice.delta.tool_calls
      }
      if (choice.finish_reason === 'tool_calls' && !others.has(choice.index)) choice.finish_reason = 'stop'
    }
    yield item
  }
}
