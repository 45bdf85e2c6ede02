import { describe, expect, it } from 'vitest'
import { codeIdentifier, schemaType, toolFileTypings } from './typings.js'

describe('TypeScript declarations from tool JSON Schemas', () => {
  it('maps the common JSON Schema shapes', () => {
    expect(schemaType({ type: 'integer' })).toBe('number')
    expect(schemaType({ enum: ['a', 1, null] })).toBe('"a" | 1 | null')
    expect(schemaType({ const: 'x' })).toBe('"x"')
    expect(schemaType({ type: ['string', 'null'] })).toBe('string | null')
    expect(schemaType({ anyOf: [{ type: 'string' }, { type: 'number' }] })).toBe('string | number')
    expect(schemaType({ type: 'array', items: { type: 'string' } })).toBe('string[]')
    expect(schemaType({ type: 'array', items: { enum: ['a', 'b'] } })).toBe('Array<"a" | "b">')
    expect(schemaType({ type: 'object', additionalProperties: { type: 'boolean' } })).toBe(
      'Record<string, boolean>',
    )
    expect(schemaType({ type: 'object' })).toBe('Record<string, unknown>')
    expect(schemaType(undefined)).toBe('unknown')
    expect(schemaType({ type: 'object', properties: { 'a-b': { type: 'string' } }, required: ['a-b'] })).toBe(
      '{\n  "a-b": string\n}',
    )
  })

  it('names tools as JavaScript identifiers', () => {
    expect(codeIdentifier('get-sum')).toBe('get_sum')
    expect(codeIdentifier('2fa.check')).toBe('_2fa_check')
  })

  it('writes one global object per server, with a documented method per tool', () => {
    const text = toolFileTypings('docs', [
      {
        name: 'docs-search',
        client: 'docs',
        toolName: 'search',
        description: 'Full-text search. Ends a comment */ early?',
        inputSchema: {
          type: 'object',
          properties: { q: { type: 'string', description: 'Query' } },
          required: ['q'],
        },
      },
    ])
    expect(text).toContain('declare const docs: {')
    expect(text).toContain('  /** Full-text search. Ends a comment *\\/ early? */\n  search(input: {')
    expect(text).toContain('    /** Query */\n    q: string\n  }): Promise<any>')
  })
})
