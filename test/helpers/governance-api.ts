import { createHash } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import { expect } from 'vitest'
import { normalizeProvider } from '../../src/core/config.js'
import { GovernanceService, type GovernanceChange } from '../../src/governance/service.js'
import { installErrorHandlers } from '../../src/http/errors.js'
import { registerGovernanceRoutes, type UsageOverlay } from '../../src/http/routes/governance.js'
import { openConfigStore, type ConfigStore } from '../../src/store/index.js'
import { tempDir, type Backend } from './databases.js'

/** The governance management API on a bare Fastify app, for the governance-api*.test.ts files. */

export interface Harness {
  app: FastifyInstance
  store: ConfigStore
  service: GovernanceService
  changes: (GovernanceChange | undefined)[]
  call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<Reply>
  close(): Promise<void>
}

export interface Reply {
  status: number
  body: any
}

/** A bare Fastify app with the error handlers and the governance routes, on a fresh store with two providers. */
export async function harness(backend: Backend, usage?: UsageOverlay): Promise<Harness> {
  const store = await openConfigStore(await backend.fresh(), { appDir: tempDir('gov') })
  await store.putProvider(
    normalizeProvider('openai', {
      keys: [
        { id: 'oa-1', name: 'main', value: 'sk-openai-secret-1', models: ['*'] },
        { id: 'oa-2', name: 'backup', value: 'sk-openai-secret-2', models: ['*'] },
      ],
    }),
  )
  await store.putProvider(normalizeProvider('anthropic', { keys: [{ id: 'an-1', value: 'sk-ant-secret' }] }))
  const changes: (GovernanceChange | undefined)[] = []
  const service = new GovernanceService({
    db: store.db,
    onChange: async (change) => {
      changes.push(change)
    },
  })
  const app = Fastify()
  installErrorHandlers(app)
  registerGovernanceRoutes(app, { service, usage })
  await app.ready()
  return {
    app,
    store,
    service,
    changes,
    async call(method, url, body) {
      const res = await app.inject({
        method,
        url,
        ...(body !== undefined && {
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        }),
      })
      return { status: res.statusCode, body: res.body === '' ? undefined : JSON.parse(res.body) }
    },
    async close() {
      await app.close()
      await store.close()
    },
  }
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

export function expectManagementError(reply: Reply, status: number): void {
  expect(reply.status).toBe(status)
  expect(reply.body).toMatchObject({ is_bifrost_error: false, status_code: status })
  expect(typeof reply.body.error.message).toBe('string')
  expect(reply.body.error.message.length).toBeGreaterThan(0)
}

/** Everything stored in the governance tables, as text. */
export async function governanceRows(store: ConfigStore): Promise<string> {
  const db = store.db.withTables<Record<string, Record<string, unknown>>>()
  const tables = [
    'gov_customers',
    'gov_teams',
    'gov_virtual_keys',
    'gov_vk_provider_configs',
    'gov_budgets',
    'gov_rate_limits',
  ]
  const rows = await Promise.all(tables.map((t) => db.selectFrom(t).selectAll().execute()))
  return JSON.stringify(rows)
}

export async function countRows(store: ConfigStore, table: string): Promise<number> {
  const db = store.db.withTables<Record<string, Record<string, unknown>>>()
  return (await db.selectFrom(table).selectAll().execute()).length
}

export const FULL_KEY = {
  name: 'ci-bot',
  description: 'the CI pipeline',
  budgets: [
    { max_limit: 10, reset_duration: '1d' },
    { max_limit: 200, reset_duration: '1M' },
  ],
  rate_limit: {
    token_max_limit: 10000,
    token_reset_duration: '1h',
    request_max_limit: 100,
    request_reset_duration: '1m',
  },
  provider_configs: [
    {
      provider: 'openai',
      weight: 0.7,
      allowed_models: ['gpt-4o-mini'],
      key_ids: ['oa-1'],
      budgets: [{ max_limit: 5, reset_duration: '1d' }],
      rate_limit: { request_max_limit: 10, request_reset_duration: '1m' },
    },
    { provider: 'anthropic', weight: null, allowed_models: ['*'], key_ids: ['*'] },
  ],
  mcp_configs: [{ mcp_client_name: 'github', tools_to_execute: ['*'] }],
}
