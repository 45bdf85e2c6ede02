import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import { ClientConfigSchema, type ClientConfig } from '../../core/schemas/index.js'
import { rotationCooldownMs } from '../../governance/index.js'
import type { ConfigStore } from '../../store/index.js'
import { stableJson } from '../../store/index.js'
import { withoutNulls } from '../bifrost-shapes.js'
import { compileValidator } from '../validate.js'

export const CONFIG_TOPIC = 'config'
const STORE_KEY = 'client_config'

/** Settings read once at start: a change is stored and applies at the next start. */
const RESTART_FIELDS = [
  'max_request_body_size_mb',
  'allowed_origins',
  'shutdown_timeout_seconds',
  // The HTTP server takes its timeouts when it is created.
  'request_headers_timeout_seconds',
  'request_timeout_seconds',
  'keep_alive_timeout_seconds',
] as const

interface StoredClientConfig {
  /** Hash of config.json's `client` section when this was stored. */
  file_hash: string
  config: ClientConfig
}

function hashOf(value: unknown): string {
  return createHash('sha256')
    .update(stableJson(value ?? {}))
    .digest('hex')
}

/**
 * Applies the stored client settings over config.json's, by the same rule as providers: edits
 * made through the API survive restarts while the file's `client` section is unchanged; an edited
 * section wins at the next start.
 */
export async function loadClientConfig(
  store: ConfigStore,
  client: ClientConfig,
  fileClient: unknown,
): Promise<void> {
  const stored = await store.getValue<StoredClientConfig>(STORE_KEY)
  if (stored && stored.file_hash === hashOf(fileClient)) Object.assign(client, stored.config)
}

const validateClient = compileValidator(ClientConfigSchema)

export interface ConfigRouteDeps {
  store: ConfigStore
  /** The live client settings: changed in place, so that every reader sees the change at once. */
  client: ClientConfig
  fileClient: unknown
  auth: { is_enabled?: boolean; admin_username?: string } | undefined
  isCacheConnected: () => boolean
  /** Whether request logs are being stored. */
  isLogsConnected: () => boolean
  onChange?: () => Promise<void>
  version: string
  /** The global proxy, password redacted (Bifrost's `proxy_config` of GET /api/config). */
  proxyConfig?: () => Promise<unknown>
}

/** Bifrost's `GET/PUT /api/config` for the client settings, and `GET /api/version`. */
export function registerConfigRoutes(app: FastifyInstance, deps: ConfigRouteDeps): void {
  let restart: { required: boolean; reason?: string } = { required: false }

  app.get('/api/config', async () => ({
    // What the gateway does, not only what was written: logging is on unless switched off.
    client_config: { ...deps.client, enable_logging: deps.client.enable_logging !== false },
    framework_config: {},
    ...(deps.auth && {
      auth_config: {
        is_enabled: deps.auth.is_enabled === true,
        admin_username: deps.auth.admin_username ?? '',
        admin_password: '<redacted>',
      },
    }),
    is_db_connected: await deps.store.ping().then(
      () => true,
      () => false,
    ),
    is_cache_connected: deps.isCacheConnected(),
    is_logs_connected: deps.isLogsConnected(),
    ...(deps.proxyConfig && { proxy_config: await deps.proxyConfig() }),
    restart_required: restart,
  }))

  app.put('/api/config', async (request) => {
    const body = request.body as { client_config?: unknown; auth_config?: unknown } | null
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new GatewayError('invalid_request', 'the body must be a JSON object')
    }
    if (body.auth_config !== undefined) {
      throw new GatewayError('invalid_request', 'auth_config is set in config.json in this version', {
        param: 'auth_config',
      })
    }
    if (body.client_config === undefined)
      return { status: 'success', message: 'nothing to change', restart_required: restart }
    // A null member is "not set", as in Bifrost: the current value stays.
    const patch = validateClient(withoutNulls(body.client_config))
    rotationCooldownMs(patch.vk_rotation_cooldown, 'client_config.vk_rotation_cooldown')
    const next = { ...deps.client, ...patch }
    const changedRestartFields = RESTART_FIELDS.filter(
      (f) => JSON.stringify(next[f]) !== JSON.stringify(deps.client[f]),
    )
    await deps.store.setValue(STORE_KEY, {
      file_hash: hashOf(deps.fileClient),
      config: next,
    } satisfies StoredClientConfig)
    Object.assign(deps.client, next)
    if (changedRestartFields.length > 0) {
      restart = { required: true, reason: `${changedRestartFields.join(', ')} apply at the next start` }
    }
    await deps.onChange?.().catch(() => undefined)
    return { status: 'success', message: 'configuration updated', restart_required: restart }
  })

  // A JSON string, as Bifrost's schema has it; a bare string would go out as text/plain.
  app.get('/api/version', async (_request, reply) =>
    reply.type('application/json').send(JSON.stringify(deps.version)),
  )
}
