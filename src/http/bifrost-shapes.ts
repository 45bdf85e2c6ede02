import { isEsModulePath } from '../plugins/index.js'
import { acceptResilience } from './bifrost-resilience.js'
import { parseDurationMs } from '../core/config.js'
import type { Logger } from '../observability/logger.js'
import { isBuiltinProvider } from '../providers/index.js'
import { KEY_CONFIG_FIELDS } from '../store/index.js'

/**
 * config.json as Bifrost's `transports/config.schema.json` allows it, brought to what Heimdall
 * reads: defaults Bifrost fills in are filled in, deprecated spellings mapped, and what Heimdall
 * does not implement is dropped or left unread with a warning, rather than refusing to start.
 * Runs before the file is validated; the input is not changed.
 */
export function acceptBifrostShapes(
  raw: unknown,
  logger: Pick<Logger, 'warn'>,
  env: NodeJS.ProcessEnv = process.env,
): unknown {
  if (!isObject(raw)) return raw
  const config: Obj = { ...raw }
  const warn = (section: string, message: string) =>
    logger.warn({ section }, `config.json ${section}: ${message}`)

  for (const [section, what] of Object.entries(UNREAD_SECTIONS)) {
    if (config[section] !== undefined) warn(section, `not implemented by Heimdall (${what}); ignored`)
  }
  if (config.version === 1) {
    warn(
      'version',
      'version 1 list semantics (an empty list allows all) are not supported; lists are read as version 2',
    )
  }
  if (config.source_of_truth === 'config.json') {
    warn('source_of_truth', '"config.json" is not supported; entries already stored keep their stored form')
  }
  if (isObject(config.client)) config.client = acceptClient(config.client, warn, env)
  if (isObject(config.providers)) config.providers = acceptProviders(config.providers, warn)
  // Bifrost's load balancer and circuit breaker policies: onto each provider's own settings.
  const providers = isObject(config.providers) ? config.providers : undefined
  const resilient = acceptResilience(config, providers, warn)
  if (resilient) config.providers = resilient
  if (isObject(config.config_store))
    config.config_store = acceptStore(config.config_store, 'config_store', warn)
  if (isObject(config.logs_store)) config.logs_store = acceptLogsStore(config.logs_store, warn)
  if (isObject(config.governance)) config.governance = acceptGovernance(config.governance, warn)
  if (isObject(config.mcp)) warnUnreadMcp(config.mcp, warn)
  if (Array.isArray(config.plugins)) {
    const accepted = acceptPlugins(config.plugins, config.client, warn)
    config.plugins = accepted.plugins
    config.client = accepted.client
  }
  return config
}

type Obj = Record<string, unknown>
type Warn = (section: string, message: string) => void

function isObject(value: unknown): value is Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** The object without its members set to null (Bifrost's Go structs read a JSON null as "not set"). */
export function withoutNulls(value: unknown): unknown {
  if (!isObject(value)) return value
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null))
}

/** Key members whose null means "none"; a null `models` is left to be refused, as its meaning differs by version. */
const NULLABLE_KEY_FIELDS: readonly string[] = ['aliases', 'description', ...KEY_CONFIG_FIELDS]

/** A provider key as Bifrost may write it, with the configs it writes as null left out. */
export function keyWithoutNulls(key: unknown): unknown {
  if (!isObject(key)) return key
  return Object.fromEntries(
    Object.entries(key).filter(([k, v]) => v !== null || !NULLABLE_KEY_FIELDS.includes(k)),
  )
}

/** A provider as Bifrost may write it, with the members it writes as null (no proxy, no key config ...) left out. */
export function providerWithoutNulls(value: unknown): unknown {
  const provider = withoutNulls(value)
  if (!isObject(provider) || !Array.isArray(provider.keys)) return provider
  return { ...provider, keys: provider.keys.map(keyWithoutNulls) }
}

/** Top-level sections of Bifrost's config.json that Heimdall has no counterpart for. */
const UNREAD_SECTIONS: Record<string, string> = {
  server: 'the HTTP server tuning (read_buffer_size)',
  env_label: 'the UI environment label',
  framework: 'the pricing and MCP catalogue sync (Heimdall ships its own price table)',
  vector_store: 'the vector store (semantic cache)',
  alerting: 'alerting',
  webhooks: 'webhook delivery',
  skills_registry: 'the skills registry',
  websocket: 'the WebSocket gateway',
  guardrails_config: 'guardrails',
  audit_logs: 'audit logs',
  cluster_config: "Bifrost's clustering (Heimdall's is `cluster.redis_url`)",
  large_payload_optimization: 'large payload streaming',
  scim_config: 'SCIM / identity provider login',
  access_profiles: 'access profiles from config.json (create them through /api/access-profiles)',
  feature_flags: 'feature flags',
}

/** `client` fields Bifrost documents that Heimdall accepts, shows in /api/config, and does not act on. */
const UNREAD_CLIENT_FIELDS = [
  'initial_pool_size',
  'prometheus_labels',
  'compat',
  'header_filter_config',
  'required_headers',
  'logging_headers',
  'allowed_headers',
  'dump_errors_in_console_logs',
  'dual_credential_conflict_behavior',
  'hide_deleted_virtual_keys_in_filters',
  'allow_per_request_raw_override',
  'allow_per_request_content_storage_override',
]

function acceptClient(input: Obj, warn: Warn, env: NodeJS.ProcessEnv): Obj {
  const client = withoutNulls(input) as Obj
  // Bifrost's deprecated spellings of enforce_auth_on_inference.
  for (const old of ['enforce_governance_header', 'enforce_scim_auth']) {
    if (typeof client[old] === 'boolean' && client.enforce_auth_on_inference === undefined) {
      client.enforce_auth_on_inference = client[old]
    }
  }
  const unread = UNREAD_CLIENT_FIELDS.filter((f) => client[f] !== undefined)
  if (unread.length > 0)
    warn('client', `${unread.join(', ')} not implemented by Heimdall; kept but not applied`)
  if (client.mcp_external_client_url !== undefined) {
    client.mcp_external_client_url = envVarText(client.mcp_external_client_url, env)
  }
  if (isObject(client.oauth2_server_config) && client.oauth2_server_config.issuer_url !== undefined) {
    const issuer = envVarText(client.oauth2_server_config.issuer_url, env)
    client.oauth2_server_config = { ...client.oauth2_server_config, issuer_url: issuer }
  }
  return client
}

/** Bifrost's object form of a value that may come from the environment (`{value, env_var, from_env}`), as its text. */
function envVarText(value: unknown, env: NodeJS.ProcessEnv): unknown {
  if (!isObject(value)) return value
  if (value.from_env === true && typeof value.env_var === 'string' && value.env_var !== '') {
    return env[value.env_var]
  }
  return typeof value.value === 'string' ? value.value : value
}

/** The providers Bifrost knows; one Heimdall has no adapter for is left out with a warning rather than refused. */
const BIFROST_PROVIDERS = [
  'openai',
  'anthropic',
  'bedrock',
  'bedrock_mantle',
  'cohere',
  'azure',
  'vertex',
  'mistral',
  'ollama',
  'groq',
  'gemini',
  'opencode-go',
  'opencode-zen',
  'openrouter',
  'sgl',
  'parasail',
  'perplexity',
  'replicate',
  'elevenlabs',
  'deepgram',
  'cerebras',
  'deepseek',
  'vllm',
  'huggingface',
  'fireworks',
  'nebius',
  'xai',
  'runway',
  'runware',
  'sarvam',
]

/** Network settings Heimdall keeps and shows but does not apply to its connections. */
const UNREAD_NETWORK_FIELDS = [
  'enforce_http2',
  'insecure_skip_verify',
  'ca_cert_pem',
  'keep_alive_timeout_in_seconds',
  'beta_header_overrides',
  'allow_private_network',
]

function acceptProviders(input: Obj, warn: Warn): Obj {
  const providers: Obj = {}
  for (const [name, value] of Object.entries(input)) {
    const at = `providers.${name}`
    if (!isObject(value)) {
      providers[name] = value
      continue
    }
    const custom = isObject(value.custom_provider_config) ? value.custom_provider_config : undefined
    const type = typeof custom?.base_provider_type === 'string' ? custom.base_provider_type : name
    if (BIFROST_PROVIDERS.includes(type) && !isBuiltinProvider(type)) {
      warn(at, `provider type ${type} is not supported by Heimdall; this provider is left out`)
      continue
    }
    // Bifrost writes a provider without a proxy as `"proxy_config": null`, and so on.
    const provider = providerWithoutNulls(value) as Obj
    const proxyType = isObject(provider.proxy_config) ? provider.proxy_config.type : undefined
    if (proxyType !== undefined && !['none', 'http', 'socks5', 'environment'].includes(String(proxyType))) {
      warn(`${at}.proxy_config`, `proxy type ${String(proxyType)} is not supported; kept but not applied`)
    }
    if (isObject(provider.network_config)) {
      const network = provider.network_config
      const unread = UNREAD_NETWORK_FIELDS.filter((f) => network[f] !== undefined)
      if (unread.length > 0) warn(`${at}.network_config`, `${unread.join(', ')} kept but not applied`)
    }
    providers[name] = provider
  }
  return providers
}

/** A store with no `type` is Bifrost's default, SQLite. */
function acceptStore(input: Obj, section: string, warn: Warn): Obj {
  const store = { ...input }
  if (store.type === undefined) store.type = 'sqlite'
  if (isObject(store.config) && store.config.password_command !== undefined) {
    warn(`${section}.config.password_command`, 'not implemented by Heimdall; set password instead')
  }
  if (store.vault_store !== undefined) {
    warn(`${section}.vault_store`, 'external secret stores are not implemented by Heimdall; ignored')
    delete store.vault_store
  }
  return store
}

function acceptLogsStore(input: Obj, warn: Warn): Obj {
  const store = acceptStore(input, 'logs_store', warn)
  if (store.type === 'clickhouse') {
    if (store.enabled !== false)
      warn('logs_store', 'ClickHouse is not supported by Heimdall; request logs are off')
    return { enabled: false, type: 'sqlite' }
  }
  // Bifrost's writer tuning, under Heimdall's names; what is already set in Heimdall's names wins.
  if (isObject(store.writer)) {
    const w = store.writer
    if (typeof w.max_batch_size === 'number') store.batch_size ??= w.max_batch_size
    if (typeof w.write_queue_capacity === 'number') store.max_queue_size ??= w.write_queue_capacity
    if (typeof w.batch_interval === 'string') store.flush_interval_ms ??= parseDurationMs(w.batch_interval, 0)
    const unread = ['max_batch_bytes', 'deferred_usage_concurrency'].filter((f) => w[f] !== undefined)
    if (unread.length > 0) warn('logs_store.writer', `${unread.join(', ')} not implemented; ignored`)
  }
  for (const field of ['object_storage', 'object_storage_exclude_fields', 'retention_days']) {
    if (store[field] !== undefined) {
      const instead = field === 'retention_days' ? ' (use client.log_retention_days)' : ''
      warn(`logs_store.${field}`, `not implemented by Heimdall; ignored${instead}`)
    }
  }
  return store
}

/** Governance sections the file import does not read (see governance/file-import.ts). */
const UNREAD_GOVERNANCE = [
  'business_units',
  'roles',
  'pricing_overrides',
  'complexity_analyzer_config',
  'model_configs',
  'providers',
]

function acceptGovernance(governance: Obj, warn: Warn): Obj {
  for (const section of UNREAD_GOVERNANCE) {
    const value = governance[section]
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue
    warn(`governance.${section}`, 'not imported from config.json by Heimdall; ignored')
  }
  if (!Array.isArray(governance.virtual_keys)) return governance
  // An MCP config naming its client only by Bifrost's database id cannot be matched to a Heimdall client.
  const virtual_keys = governance.virtual_keys.map((vk, i) => {
    if (!isObject(vk) || !Array.isArray(vk.mcp_configs)) return vk
    const named = vk.mcp_configs.filter((m) => !isObject(m) || typeof m.mcp_client_name === 'string')
    if (named.length === vk.mcp_configs.length) return vk
    warn(
      `governance.virtual_keys.${i}.mcp_configs`,
      'entries without mcp_client_name (database ids) cannot be matched to an MCP client; left out',
    )
    return { ...vk, mcp_configs: named }
  })
  return { ...governance, virtual_keys }
}

function warnUnreadMcp(mcp: Obj, warn: Warn): void {
  if (mcp.tool_sync_interval !== undefined) {
    warn('mcp.tool_sync_interval', 'periodic tool re-sync is not implemented by Heimdall; ignored')
  }
}

/** Plugins Heimdall implements (`telemetry`, `otel`) or has built in (`logging`, `governance`). */
const KNOWN_PLUGINS = new Set(['telemetry', 'otel', 'logging', 'governance', 'mocker', 'jsonparser'])

/**
 * The built-in `logging` and `governance` plugins' settings are client settings in Heimdall; they
 * apply where the `client` section does not set them. `otel`'s multi-profile form is read as its
 * first enabled profile.
 */
function acceptPlugins(
  plugins: unknown[],
  clientInput: unknown,
  warn: Warn,
): { plugins: unknown[]; client: unknown } {
  const client: Obj = isObject(clientInput) ? { ...clientInput } : {}
  let changed = false
  const setClient = (field: string, value: unknown) => {
    if (client[field] !== undefined) return
    client[field] = value
    changed = true
  }
  const out = plugins.map((plugin) => {
    if (!isObject(plugin) || typeof plugin.name !== 'string' || plugin.enabled === false) return plugin
    const at = `plugins.${plugin.name}`
    const cfg = isObject(plugin.config) ? plugin.config : {}
    if (!KNOWN_PLUGINS.has(plugin.name) && !isEsModulePath(plugin.path)) {
      warn(at, 'plugin not implemented by Heimdall (Go and WASM plugins are not loaded); ignored')
    } else if (plugin.name === 'governance' && typeof cfg.is_vk_mandatory === 'boolean') {
      setClient('enforce_auth_on_inference', cfg.is_vk_mandatory)
    } else if (plugin.name === 'logging' && typeof cfg.disable_content_logging === 'boolean') {
      setClient('disable_content_logging', cfg.disable_content_logging)
    } else if (plugin.name === 'telemetry') {
      const unread = ['custom_labels', 'push_gateway'].filter((f) => cfg[f] !== undefined)
      if (unread.length > 0) warn(`${at}.config`, `${unread.join(', ')} not implemented by Heimdall; ignored`)
    } else if (plugin.name === 'otel' && Array.isArray(cfg.profiles)) {
      const enabled = cfg.profiles.filter((p) => isObject(p) && p.enabled !== false)
      if (enabled.length > 1)
        warn(`${at}.config.profiles`, 'Heimdall exports to one collector: the first profile')
      return { ...plugin, ...(enabled.length === 0 ? { enabled: false } : { config: enabled[0] }) }
    }
    return plugin
  })
  return { plugins: out, client: changed ? client : clientInput }
}
