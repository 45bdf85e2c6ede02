import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { BIFROST_OPENAPI_DIR, bifrostSchema, schemaErrors } from './helpers/bifrost-openapi.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Every operation of Bifrost's OpenAPI (each path of openapi.yaml, with its methods) and the seed
 * pages' routes, called on Heimdall: each is served (not the router's route_not_found or
 * method_not_allowed), and an answer whose status the OpenAPI documents with a JSON schema
 * validates against it. NOT_SERVED lists what is deliberately left out; it must stay true both ways.
 */

const HTTP_METHODS = ['get', 'post', 'put', 'delete', 'patch']

/**
 * What is not served yet, and why. An entry that starts being served fails the test, so that it
 * is taken off.
 */
const NOT_SERVED: Record<string, string> = {}

/** Answers that do not fit the documented schema yet, and why; one that starts fitting fails the test too. */
const SCHEMA_MISMATCHES: Record<string, string> = {}

interface Operation {
  method: string
  /** The OpenAPI path, `{param}` placeholders included. */
  path: string
  /** The paths file and its entry (JSON-pointer escaped), when the OpenAPI has one. */
  file?: string
  entry?: string
}

/**
 * paths/inference and paths/integrations are not among the stored excerpts (NOTICE.md): their
 * methods are those of the same files upstream (Bifrost's docs/openapi/paths/, read from a copy of
 * the repository): POST, but GET for model lists, results and contents, GET and POST for
 * collections, GET and DELETE for one object.
 */
function unstoredMethods(file: string, entry: string): string[] {
  if (/^(azure-)?models$/.test(entry)) return ['get']
  if (['batches', 'files', 'containers', 'container-files', 'batch-jobs'].includes(entry))
    return file.endsWith('genai/files.yaml') ? ['get'] : ['get', 'post']
  if (/(results|files-content)$/.test(entry) || ['batches-by-id', 'batch-job-by-id'].includes(entry))
    return ['get']
  if (entry.endsWith('-by-id')) return file.endsWith('anthropic/files.yaml') ? ['delete'] : ['get', 'delete']
  return ['post']
}

/** Entries openapi.yaml names that the stored file (another revision) calls otherwise. */
const RENAMED_ENTRIES: Record<string, string> = {
  'paths/management/cache.yaml#clear-by-request-id': 'clear-by-cache-id',
}

/** The routes of the five seed pages (shared/seeds/README.md), with the paths entry that documents each. */
const SEEDS: Operation[] = [
  { method: 'GET', path: '/api/mcp/sessions', file: 'paths/management/mcp.yaml', entry: 'sessions' },
  {
    method: 'GET',
    path: '/api/governance/virtual-keys',
    file: 'paths/management/governance.yaml',
    entry: 'virtual-keys',
  },
  {
    method: 'GET',
    path: '/api/access-profiles',
    file: 'paths/management/accessprofiles.yaml',
    entry: 'access-profiles',
  },
  { method: 'GET', path: '/api/users/email/{email}/virtual-keys' },
  {
    method: 'POST',
    path: '/api/oauth/per-user/consent/vk',
    file: 'paths/management/oauth.yaml',
    entry: 'consent-submit-vk',
  },
]

const decodePointer = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~')

function readYaml(file: string): Record<string, Record<string, unknown>> {
  return parse(readFileSync(join(BIFROST_OPENAPI_DIR, file), 'utf8')) as Record<
    string,
    Record<string, unknown>
  >
}

function operations(): Operation[] {
  const root = readYaml('openapi.yaml') as { paths: Record<string, { $ref: string }> }
  const ops: Operation[] = []
  for (const [path, { $ref }] of Object.entries(root.paths)) {
    const [file, pointer] = $ref.replace(/^\.\//, '').split('#/')
    let entry = RENAMED_ENTRIES[`${file}#${pointer}`] ?? pointer
    let methods: string[]
    if (existsSync(join(BIFROST_OPENAPI_DIR, file))) {
      const item = readYaml(file)[decodePointer(entry)]
      if (!item) throw new Error(`${file} has no entry ${entry}`)
      methods = Object.keys(item).filter((k) => HTTP_METHODS.includes(k))
    } else {
      methods = unstoredMethods(file, entry)
      entry = ''
    }
    for (const m of methods)
      ops.push({ method: m.toUpperCase(), path, file: entry ? file : undefined, entry })
  }
  for (const seed of SEEDS)
    if (!ops.some((o) => o.method === seed.method && o.path === seed.path)) ops.push(seed)
  return ops
}

const key = (op: Operation) => `${op.method} ${op.path}`

/** The schema of the JSON answer an operation documents for a status, as a ref for bifrostSchema. */
function responseSchemaRef(op: Operation, status: number): string | undefined {
  if (!op.file || !op.entry) return undefined
  const item = readYaml(op.file)[decodePointer(op.entry)] as Record<
    string,
    { responses?: Record<string, unknown> }
  >
  const response = item[op.method.toLowerCase()]?.responses?.[String(status)] as
    { $ref?: string; content?: Record<string, { schema?: unknown }> } | undefined
  if (!response) return undefined
  if (response.$ref) {
    // '../../openapi.yaml#/components/responses/BadRequest'
    const [, pointer] = response.$ref.split('#/')
    const shared = (readYaml('openapi.yaml') as Record<string, any>).components?.responses?.[
      pointer.split('/').pop() as string
    ]
    return shared?.content?.['application/json']?.schema
      ? `openapi.yaml#/${pointer}/content/application~1json/schema`
      : undefined
  }
  if (!response.content?.['application/json']?.schema) return undefined
  const at = [op.method.toLowerCase(), 'responses', String(status), 'content', 'application~1json', 'schema']
  return `${op.file}#/${op.entry}/${at.join('/')}`
}

/**
 * The router's refusal, as opposed to a served route's own 404 (an absent virtual key, file ...):
 * Heimdall's route_not_found and method_not_allowed in Bifrost's error shape, or an integration's
 * wildcard route saying in its SDK's error shape that the operation is not one it serves.
 */
function refusedByRouter(status: number, text: string): boolean {
  if (status !== 404 && status !== 405) return false
  return (
    /"code":"(route_not_found|method_not_allowed)"/.test(text) ||
    /is not served|no route for|no Bedrock Runtime operation|no Azure OpenAI operation/.test(text)
  )
}

const present = existsSync(join(BIFROST_OPENAPI_DIR, 'openapi.yaml'))
if (!present)
  console.warn(
    `bifrost-openapi-walk: ${BIFROST_OPENAPI_DIR} is missing (shared/ beside the repository); skipped`,
  )

describe.skipIf(!present)("Bifrost's OpenAPI, operation by operation", () => {
  let fake: FakeServer
  let h: RunningHeimdall
  const ids: Record<string, string> = {}
  const api = (method: string, path: string, body?: unknown) => callJson(h.url, method, path, body)

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    h = await startHeimdall({ providers: { openai: fakeProvider(fake.url) } })
    const customer = await api('POST', '/api/governance/customers', { name: 'walk-customer' })
    const team = await api('POST', '/api/governance/teams', { name: 'walk-team' })
    const vk = await api('POST', '/api/governance/virtual-keys', { name: 'walk-vk' })
    const mc = await api('POST', '/api/governance/model-configs', {
      model_name: 'gpt-4o-mini',
      budgets: [{ max_limit: 100, reset_duration: '1d' }],
      rate_limit: { request_max_limit: 1000, request_reset_duration: '1h' },
    })
    for (const r of [customer, team, vk, mc]) expect(r.status, JSON.stringify(r.body)).toBe(200)
    ids.mc_id = mc.body.model_config.id
    ids.customer_id = customer.body.customer.id
    ids.team_id = team.body.team.id
    ids.vk_id = vk.body.virtual_key.id
  })
  afterAll(async () => {
    await h?.close()
    await fake?.close()
  })

  /** Path parameters: ids created above, else values whose absence a served route reports as such. */
  function fill(op: Operation): string {
    const values: Record<string, string> = {
      ...ids,
      // The configured provider is read; one made by POST /api/providers is changed and removed.
      provider: op.method === 'GET' ? 'openai' : 'groq',
      provider_name: 'openai',
      model: 'gemini-2.0-flash',
      modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
      'deployment-id': 'gpt-4o-mini',
      email: 'nobody@example.com',
    }
    return op.path.replace(/\{([^}]+)\}/g, (_, name: string) =>
      encodeURIComponent(values[name] ?? `walk-missing-${name.replace(/_/g, '-')}`),
    )
  }

  /** A body: what the operation needs to succeed where that is cheap, else an empty object. */
  async function bodyOf(op: Operation): Promise<unknown> {
    if (op.method === 'GET' || op.method === 'DELETE') return undefined
    switch (key(op)) {
      case 'PUT /api/config':
      case 'PUT /api/proxy-config':
        // What it reads back, stored again unchanged.
        return (await api('GET', op.path)).body
      case 'POST /api/providers':
        return { provider: 'groq', keys: [{ name: 'walk', value: 'gsk-walk', models: ['*'], weight: 1 }] }
      case 'PUT /api/providers/{provider}':
        return { keys: [{ name: 'walk', value: 'gsk-walk', models: ['*'], weight: 1 }] }
      case 'POST /api/session/login':
        return { username: 'nobody', password: 'wrong' }
      case 'POST /api/governance/virtual-keys':
        return { name: 'walk-vk-2' }
      case 'POST /api/governance/teams':
        return { name: 'walk-team-2' }
      case 'POST /api/governance/customers':
        return { name: 'walk-customer-2' }
      case 'PUT /api/governance/virtual-keys/{vk_id}':
        return { description: 'walked' }
      case 'PUT /api/governance/teams/{team_id}':
        return { name: 'walk-team-renamed' }
      case 'PUT /api/governance/customers/{customer_id}':
        return { name: 'walk-customer-renamed' }
      case 'POST /api/governance/model-configs':
        return { model_name: 'walk-model', provider: 'openai' }
      case 'PUT /api/governance/model-configs/{mc_id}':
        return { budgets: [{ max_limit: 50, reset_duration: '1d' }] }
      case 'PUT /api/governance/providers/{provider_name}':
        return {
          budgets: [{ max_limit: 100, reset_duration: '1M' }],
          rate_limit: { token_max_limit: 1_000_000, token_reset_duration: '1h' },
        }
    }
    return {}
  }

  it('serves every operation outside NOT_SERVED, and its documented answers validate', async () => {
    const ops = operations()
    // Reads first, deletions last, so that each call finds what the earlier ones made.
    const order = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
    ops.sort((a, b) => order.indexOf(a.method) - order.indexOf(b.method))
    const unserved: string[] = []
    const nowServed: string[] = []
    const invalid: string[] = []
    const fitting: string[] = []
    // A served route answers what it makes of the request, never an internal error.
    const crashed: string[] = []
    const validated: string[] = []
    const servedOps: string[] = []
    for (const op of ops) {
      const body = await bodyOf(op)
      const form = key(op) === 'POST /api/oauth/per-user/consent/vk'
      const res = await fetch(h.url + fill(op), {
        method: op.method,
        headers:
          body === undefined
            ? {}
            : { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
        body:
          body === undefined ? undefined : form ? 'flow_id=walk-missing&vk=sk-bf-walk' : JSON.stringify(body),
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
      })
      const text = await res.text()
      const served = !refusedByRouter(res.status, text)
      if (res.status === 500) crashed.push(`${key(op)} → 500 ${text.slice(0, 160)}`)
      if (!served && !(key(op) in NOT_SERVED))
        unserved.push(`${key(op)} → ${res.status} ${text.slice(0, 160)}`)
      if (served && key(op) in NOT_SERVED)
        nowServed.push(`${key(op)} → ${res.status}: take it off NOT_SERVED`)
      const ref = served ? responseSchemaRef(op, res.status) : undefined
      if (ref && (res.headers.get('content-type') ?? '').includes('json')) {
        validated.push(`${key(op)} ${res.status}`)
        const validate = bifrostSchema(ref)
        const fits = validate(JSON.parse(text))
        if (!fits && !(key(op) in SCHEMA_MISMATCHES))
          invalid.push(`${key(op)} → ${res.status}: ${schemaErrors(validate.errors).slice(0, 3).join('; ')}`)
        if (fits && key(op) in SCHEMA_MISMATCHES) fitting.push(`${key(op)}: take it off SCHEMA_MISMATCHES`)
      }
      if (served) servedOps.push(key(op))
    }
    if (process.env.WALK_SUMMARY) {
      const reasons: Record<string, number> = {}
      for (const k of Object.keys(NOT_SERVED)) reasons[NOT_SERVED[k]] = (reasons[NOT_SERVED[k]] ?? 0) + 1
      console.info(
        JSON.stringify({
          operations: ops.length,
          served: servedOps.length,
          validated: validated.length,
          notServed: reasons,
        }),
      )
    }
    expect(unserved).toEqual([])
    expect(nowServed).toEqual([])
    expect(invalid).toEqual([])
    expect(fitting).toEqual([])
    expect(crashed).toEqual([])
    // Every entry of NOT_SERVED is one of the operations walked.
    expect(Object.keys(NOT_SERVED).filter((k) => !ops.some((op) => key(op) === k))).toEqual([])
    // Some 225 operations one after another: seconds alone, more on a loaded machine.
  }, 60_000)
})
