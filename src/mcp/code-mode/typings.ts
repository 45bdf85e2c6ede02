import type { McpTool } from '../types.js'

/**
 * TypeScript declarations of code-mode tools, generated from their JSON Schemas: what
 * `readToolFile` shows the model, so that it writes calls with the right argument names and types.
 */

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/
/** Deeper object schemas read as a plain record: a declaration file stays short. */
const MAX_DEPTH = 4

/** A tool's name as a JavaScript property name (`get-sum` → `get_sum`), as scripts call it. */
export function codeIdentifier(name: string): string {
  const id = name.replace(/[^A-Za-z0-9_$]/g, '_')
  return /^[0-9]/.test(id) ? `_${id}` : id
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function propertyKey(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name)
}

function union(types: string[]): string {
  const unique = [...new Set(types)]
  return unique.length === 0 ? 'unknown' : unique.join(' | ')
}

/** A doc comment on one line, or nothing; `*​/` in a description cannot end it early. */
function docComment(text: unknown, indent: string): string {
  if (typeof text !== 'string' || text.trim() === '') return ''
  return `${indent}/** ${text
    .trim()
    .replace(/\*\//g, '*\\/')
    .replace(/\s*\n\s*/g, ' ')} */\n`
}

function objectType(schema: Record<string, unknown>, depth: number, indent: string): string {
  const props = isObject(schema.properties) ? schema.properties : {}
  const names = Object.keys(props)
  const extra = schema.additionalProperties
  if (names.length === 0) {
    const value = isObject(extra) ? schemaType(extra, depth + 1, indent) : 'unknown'
    return `Record<string, ${value}>`
  }
  if (depth >= MAX_DEPTH) return 'Record<string, unknown>'
  const required = new Set(Array.isArray(schema.required) ? schema.required : [])
  const inner = `${indent}  `
  const lines = names.map((name) => {
    const prop = props[name]
    const optional = required.has(name) ? '' : '?'
    return `${docComment(isObject(prop) ? prop.description : undefined, inner)}${inner}${propertyKey(name)}${optional}: ${schemaType(prop, depth + 1, inner)}`
  })
  return `{\n${lines.join('\n')}\n${indent}}`
}

/** The TypeScript type of a JSON Schema (the common subset: types, enums, unions, objects, arrays). */
export function schemaType(schema: unknown, depth = 0, indent = ''): string {
  if (schema === true || schema === undefined) return 'unknown'
  if (!isObject(schema)) return 'unknown'
  if (Array.isArray(schema.enum)) return union(schema.enum.map((v) => JSON.stringify(v)))
  if ('const' in schema) return JSON.stringify(schema.const)
  const alternatives = schema.anyOf ?? schema.oneOf
  if (Array.isArray(alternatives)) return union(alternatives.map((s) => schemaType(s, depth, indent)))
  if (Array.isArray(schema.type))
    return union(schema.type.map((t) => schemaType({ ...schema, type: t }, depth, indent)))
  switch (schema.type) {
    case 'string':
      return 'string'
    case 'number':
    case 'integer':
      return 'number'
    case 'boolean':
      return 'boolean'
    case 'null':
      return 'null'
    case 'array': {
      const item = schemaType(schema.items, depth + 1, indent)
      return /[|{\n]/.test(item) ? `Array<${item}>` : `${item}[]`
    }
    case 'object':
      return objectType(schema, depth, indent)
    default:
      return isObject(schema.properties) ? objectType(schema, depth, indent) : 'unknown'
  }
}

function toolDeclaration(tool: McpTool, indent: string): string {
  const input = schemaType({ type: 'object', ...tool.inputSchema }, 0, indent)
  return `${docComment(tool.description, indent)}${indent}${codeIdentifier(tool.toolName)}(input: ${input}): Promise<any>`
}

/**
 * The declaration file of a server's code-mode tools (all of them, or one at tool-level binding):
 * one global object per server, one async method per tool.
 */
export function toolFileTypings(server: string, tools: McpTool[]): string {
  const example = tools[0] ? codeIdentifier(tools[0].toolName) : 'tool'
  return [
    `// MCP server "${server}": call its tools in executeToolCode as \`await ${server}.<tool>({ ...input })\`,`,
    `// e.g. const out = await ${server}.${example}({ ... }). A call resolves to the tool's structured`,
    `// content, else its text parsed as JSON when it is JSON, else its text; a failed call throws.`,
    `declare const ${server}: {`,
    tools.map((t) => toolDeclaration(t, '  ')).join('\n'),
    '}',
  ].join('\n')
}
