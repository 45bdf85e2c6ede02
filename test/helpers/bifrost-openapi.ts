import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { parse } from 'yaml'

/**
 * Bifrost's OpenAPI excerpts (docs/openapi/ of maximhq/bifrost), YAML files that $ref each other:
 * `shared/` lies beside the repository's folder, here and in CI.
 */
export const BIFROST_OPENAPI_DIR = fileURLToPath(
  new URL('../../../shared/reference/bifrost-openapi', import.meta.url),
)
const BASE = 'https://bifrost.openapi/'

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return yamlFiles(path)
    return name.endsWith('.yaml') ? [path] : []
  })
}

/**
 * Several schemas still carry OpenAPI 3.0's `nullable: true` although the root says 3.1; they
 * are read as their authors meant them: null allowed.
 */
function honourNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(honourNullable)
  if (node === null || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(node)) out[k] = honourNullable(v)
  if (out.nullable === true) {
    delete out.nullable
    if (typeof out.type === 'string') out.type = [out.type, 'null']
    else if (Array.isArray(out.type)) out.type = [...(out.type as unknown[]), 'null']
    else if (typeof out.$ref === 'string') {
      const ref = out.$ref
      delete out.$ref
      out.anyOf = [{ $ref: ref }, { type: 'null' }]
    }
  }
  return out
}

function refsOf(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) refsOf(item, out)
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v)
      else refsOf(v, out)
    }
  }
  return out
}

/**
 * The excerpts come from different upstream commits, so some $refs name files or schemas that are
 * not stored (see NOTICE.md); those targets accept anything rather than failing every schema that
 * mentions them.
 */
function addMissingTargets(docs: Map<string, Record<string, unknown>>): void {
  for (const [id, doc] of [...docs]) {
    for (const ref of refsOf(doc)) {
      const url = new URL(ref, id)
      const fileId = url.href.replace(/#.*$/, '')
      const target = docs.get(fileId) ?? {}
      docs.set(fileId, target)
      const path = url.hash.replace(/^#\/?/, '')
      if (path === '') continue
      let node: Record<string, unknown> = target
      for (const part of path.split('/').map(decodeURIComponent)) {
        if (node[part] === undefined) node[part] = {}
        node = node[part] as Record<string, unknown>
      }
    }
  }
}

let ajv: Ajv2020 | undefined

function loadAjv(): Ajv2020 {
  if (ajv) return ajv
  const instance = new Ajv2020({ strict: false, allErrors: true, validateSchema: false })
  addFormats.default(instance)
  instance.addFormat('uint', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 })
  const docs = new Map<string, Record<string, unknown>>()
  for (const file of yamlFiles(BIFROST_OPENAPI_DIR)) {
    docs.set(
      BASE + relative(BIFROST_OPENAPI_DIR, file),
      honourNullable(parse(readFileSync(file, 'utf8'))) as Record<string, unknown>,
    )
  }
  addMissingTargets(docs)
  for (const [id, doc] of docs) instance.addSchema({ ...doc, $id: id })
  ajv = instance
  return instance
}

/** A validator for a schema named by its file (relative to docs/openapi/) and JSON pointer, e.g. `schemas/management/governance.yaml#/VirtualKey`. */
export function bifrostSchema(ref: string): ValidateFunction {
  const instance = loadAjv()
  const id = BASE + ref
  const existing = instance.getSchema(id)
  if (existing) return existing
  return instance.compile({ $id: `${id}-wrapper`, $ref: id })
}

/**
 * The schema of a documented JSON answer: `file` is a paths file (e.g. `paths/management/governance.yaml`),
 * `entry` its top-level key (e.g. `virtual-keys-by-id`).
 */
export function bifrostResponse(
  file: string,
  entry: string,
  method: string,
  status = '200',
): ValidateFunction {
  const path = [entry, method, 'responses', status, 'content', 'application/json', 'schema']
  const doc = parse(readFileSync(join(BIFROST_OPENAPI_DIR, file), 'utf8')) as unknown
  let node = doc
  for (const part of path) node = (node as Record<string, unknown> | undefined)?.[part]
  if (!node)
    throw new Error(`no JSON ${status} answer documented for ${method.toUpperCase()} ${file}#${entry}`)
  return bifrostSchema(`${file}#/${path.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`)
}

/** The validator's errors, one line each, for an assertion message. */
export function schemaErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map(
    (e) => `${e.instancePath || '(root)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  )
}
