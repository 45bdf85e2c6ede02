import { GatewayError } from '../core/errors.js'

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
