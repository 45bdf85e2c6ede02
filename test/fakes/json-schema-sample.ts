/**
 * A value that satisfies a JSON Schema (or Gemini's OpenAPI subset, with upper-case types), as a
 * model bound by structured outputs would answer: strings carry `text`, so a test can tell the
 * answer came from this request.
 */
export function sampleOf(schema: unknown, text: string, depth = 0): unknown {
  if (!schema || typeof schema !== 'object' || depth > 8) return null
  const s = schema as Record<string, any>
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0]
  if ('const' in s) return s.const
  for (const k of ['anyOf', 'oneOf', 'allOf'])
    if (Array.isArray(s[k]) && s[k].length) return sampleOf(s[k][0], text, depth + 1)
  const types: string[] = (Array.isArray(s.type) ? s.type : [s.type]).map((t: unknown) =>
    String(t ?? '').toLowerCase(),
  )
  const type = types.find((t) => t && t !== 'null') ?? (s.properties ? 'object' : 'null')
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, unknown>))
        out[k] = sampleOf(v, text, depth + 1)
      return out
    }
    case 'array':
      return [sampleOf(s.items, text, depth + 1)]
    case 'string':
      return text
    case 'integer':
    case 'number':
      return 42
    case 'boolean':
      return true
    default:
      return null
  }
}
