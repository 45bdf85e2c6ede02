import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, expect } from 'vitest'
import { governanceKeyStore } from '../../src/governance/access-profile-shapes.js'
import { AccessProfileService } from '../../src/governance/access-profiles.js'
import { GovernanceService } from '../../src/governance/service.js'
import { UserService } from '../../src/governance/users.js'
import { installErrorHandlers } from '../../src/http/errors.js'
import { registerAccessProfileRoutes } from '../../src/http/routes/access-profiles.js'
import { registerUserRoutes } from '../../src/http/routes/users.js'
import { openConfigStore, type ConfigStore, type StoreSpec } from '../../src/store/index.js'
import { tempDir, type Backend } from './databases.js'

/** The users and access-profile routes on a bare Fastify app, for users-api and access-profile*.test.ts. */

export interface TestApp {
  app: FastifyInstance
  store: ConfigStore
  governance: GovernanceService
  close(): Promise<void>
}

async function buildApp(spec: StoreSpec, appDir: string): Promise<TestApp> {
  const store = await openConfigStore(spec, { appDir })
  const governance = new GovernanceService({ db: store.db, onChange: async () => undefined })
  const users = new UserService(store.db)
  const accessProfiles = new AccessProfileService(store.db, governanceKeyStore(governance))
  const app = Fastify()
  installErrorHandlers(app)
  registerUserRoutes(app, { store, users, accessProfiles })
  registerAccessProfileRoutes(app, { users, accessProfiles })
  await app.ready()
  return {
    app,
    store,
    governance,
    async close() {
      await app.close()
      await store.close()
    },
  }
}

/** For a describe on `backend`: a builder of apps, each on a fresh store; the backend is dropped after the file. */
export function appsOn(backend: Backend): () => Promise<TestApp> {
  const appDir = tempDir('users')
  afterAll(() => backend.teardown())
  return async () => buildApp(await backend.fresh(), appDir)
}

export type Json = Record<string, any>

export async function call(app: FastifyInstance, method: string, url: string, payload?: unknown) {
  const res = await app.inject({
    method: method as 'GET',
    url,
    ...(payload !== undefined && { payload: payload as object }),
  })
  return { status: res.statusCode, body: res.body === '' ? undefined : (res.json() as Json), raw: res.body }
}

/** Bifrost's management error shape (BIFROST-SEMANTICS 15.2). */
export function expectError(res: { status: number; body?: Json }, status: number, message?: RegExp): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  expect(res.body).toMatchObject({
    is_bifrost_error: false,
    status_code: status,
    error: { message: expect.any(String) },
  })
  if (message) expect(res.body?.error.message).toMatch(message)
}

export const PROFILE = {
  name: 'engineering',
  description: 'default access for engineers',
  tags: ['eng', 'default'],
  provider_configs: [
    {
      provider_name: 'openai',
      allowed_models: ['gpt-4o-mini', 'gpt-4o'],
      budgets: [{ max_limit: 50, reset_duration: '1M' }],
      rate_limit: { request_max_limit: 100, request_reset_duration: '1h' },
    },
    { provider_name: 'anthropic', all_models_allowed: true, weight: 0.5 },
  ],
  budgets: [
    { max_limit: 100, reset_duration: '1M' },
    { max_limit: 10, reset_duration: '1d' },
  ],
  rate_limit: { token_max_limit: 100000, token_reset_duration: '1h' },
  calendar_aligned: true,
  mcp_servers: [{ mcp_server_id: 'github' }],
  mcp_tool_overrides: [{ mcp_client_id: 'jira', tool_name: 'search_issues', action: 'include' }],
}
