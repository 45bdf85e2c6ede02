/**
 * Gemini's `responseSchema` is an OpenAPI 3.0 subset (upper-case `type`, `nullable`,
 * `propertyOrdering`); providers that take JSON Schema get it in that dialect.
 */
export function openApiSchemaToJsonSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'nullable' || key === 'propertyOrdering') continue
    if (key === 'type' && typeof value === 'string') out.type = value.toLowerCase()
    else if (key === 'properties' && isObject(value))
      out.properties = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, isObject(v) ? openApiSchemaToJsonSchema(v) : v]),
      )
    else if (key === 'items' && isObject(value)) out.items = openApiSchemaToJsonSchema(value)
    else if (key === 'anyOf' && Array.isArray(value))
      out.anyOf = value.map((v) => (isObject(v) ? openApiSchemaToJsonSchema(v) : v))
    else out[key] = value
  }
  if (schema.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null']
  return out
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
