import { Type, type Static } from '@sinclair/typebox'
import { randomUUID } from 'node:crypto'
import { isEnvRef, resolveSecret } from '../../core/config.js'
import { GatewayError } from '../../core/errors.js'
import { isRedactedSecret } from '../../store/index.js'

/**
 * An MCP client's configuration, with Bifrost's MCPClientConfig field names. Heimdall connects over
 * `stdio`, `http` (streamable HTTP) and `sse`; auth is `none`, static `headers`, or `per_user_oauth`
 * (each caller logs in to the upstream; see ../oauth-client/), optionally with `oauth_config`
 * (`client_id`/`client_secret` when the upstream offers no dynamic registration, `scopes`).
 *
 * `stdio_config.envs` entries are either `NAME` (the gateway's own variable NAME is passed through)
 * or `NAME=value` (set for the child; the value is a secret, or an `env.VAR` reference). The child
 * otherwise gets only the MCP SDK's short list of safe variables (PATH, HOME, ...), never the whole
 * gateway environment.
 *
 * `tools_to_execute` omitted means none, as in Bifrost (deny by default): send `["*"]` for all.
 */

export const CLIENT_NAME_PATTERN = /^[A-Za-z0-9_]+$/

export const ConnectionTypeSchema = Type.Union([
  Type.Literal('stdio'),
  Type.Literal('http'),
  Type.Literal('sse'),
])
export type McpConnectionType = Static<typeof ConnectionTypeSchema>

export const StdioConfigSchema = Type.Object({
  command: Type.String(),
  args: Type.Optional(Type.Array(Type.String())),
  envs: Type.Optional(Type.Array(Type.String())),
})

const ToolList = Type.Array(Type.String())

export const OAuthClientSettingsSchema = Type.Object({
  client_id: Type.Optional(Type.String({ minLength: 1 })),
  client_secret: Type.Optional(Type.String()),
  scopes: Type.Optional(Type.Array(Type.String())),
})
export type McpOAuthClientSettings = Static<typeof OAuthClientSettingsSchema>

/** Fields that may change after creation (PUT). */
const mutableFields = {
  name: Type.Optional(Type.String()),
  headers: Type.Optional(Type.Record(Type.String(), Type.String())),
  tools_to_execute: Type.Optional(ToolList),
  tools_to_auto_execute: Type.Optional(ToolList),
  is_ping_available: Type.Optional(Type.Boolean()),
  tool_execution_timeout: Type.Optional(Type.Integer({ minimum: 0 })),
  disabled: Type.Optional(Type.Boolean()),
  is_code_mode_client: Type.Optional(Type.Boolean()),
  allow_on_all_virtual_keys: Type.Optional(Type.Boolean()),
  /** Callers without a virtual key may use this client's tools (off by default). */
  allow_anonymous: Type.Optional(Type.Boolean()),
  oauth_config: Type.Optional(OAuthClientSettingsSchema),
}

/**
 * Bifrost's `EnvVar` object form of a value: `{value, env_var, from_env}`. With `from_env` the value
 * is read from the variable `env_var` (named with or without its `env.` prefix).
 */
export const EnvVarObjectSchema = Type.Object({
  value: Type.Optional(Type.String()),
  env_var: Type.Optional(Type.String()),
  from_env: Type.Optional(Type.Boolean()),
})
type EnvVarObject = Static<typeof EnvVarObjectSchema>

/** Fixed at creation; an update may repeat them unchanged. */
const immutableFields = {
  connection_type: Type.Optional(Type.String()),
  connection_string: Type.Optional(Type.Union([Type.String(), EnvVarObjectSchema])),
  stdio_config: Type.Optional(StdioConfigSchema),
  auth_type: Type.Optional(Type.String()),
}

export const McpClientCreateSchema = Type.Object({
  client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  ...mutableFields,
  ...immutableFields,
})
export type McpClientCreateInput = Static<typeof McpClientCreateSchema>

export const McpClientUpdateSchema = Type.Object({ ...mutableFields, ...immutableFields })
export type McpClientUpdateInput = Static<typeof McpClientUpdateSchema>

export interface McpStdioConfig {
  command: string
  args: string[]
  envs: string[]
}

/** A client's configuration once normalized and checked. */
export interface McpClientConfig {
  client_id: string
  name: string
  connection_type: McpConnectionType
  connection_string?: string
  stdio_config?: McpStdioConfig
  auth_type: McpAuthType
  headers?: Record<string, string>
  /** per_user_oauth only */
  oauth_config?: McpOAuthClientSettings
  tools_to_execute: string[]
  tools_to_auto_execute: string[]
  is_ping_available: boolean
  /** Seconds; 0 means the manager's default. */
  tool_execution_timeout: number
  disabled: boolean
  is_code_mode_client: boolean
  allow_on_all_virtual_keys: boolean
  allow_anonymous?: boolean
}

export type McpAuthType = 'none' | 'headers' | 'per_user_oauth'

const invalid = (message: string, param?: string) => new GatewayError('invalid_request', message, { param })

export function checkClientName(name: string | undefined): string {
  if (name === undefined || name === '') throw invalid('name is required', 'name')
  if (!CLIENT_NAME_PATTERN.test(name)) {
    throw invalid(
      `name ${JSON.stringify(name)} may only hold letters, digits and underscores (no hyphen: tools are named <client>-<tool>)`,
      'name',
    )
  }
  return name
}

/** A connection_string as Heimdall keeps it: the URL, or an `env.VAR` reference to it. */
export function connectionStringOf(value: string | EnvVarObject | undefined): string | undefined {
  if (value === undefined || typeof value === 'string') return value
  const name = value.env_var?.trim().replace(/^env\./, '')
  if (value.from_env === true || (value.from_env === undefined && name && !value.value)) {
    if (!name)
      throw invalid('connection_string.env_var is required with from_env', 'connection_string.env_var')
    return `env.${name}`
  }
  return value.value
}

/** The URL a client connects to, its `env.VAR` reference resolved. */
export function connectionUrl(cfg: Pick<McpClientConfig, 'connection_string'>, env = process.env): string {
  return resolveSecret(cfg.connection_string ?? '', env)
}

function checkUrl(value: string | undefined, type: string): string {
  if (value === undefined || value === '')
    throw invalid(`connection_string is required for connection_type ${type}`, 'connection_string')
  let url: URL
  if (isEnvRef(value) && process.env[value.slice(4)] === undefined)
    throw invalid(
      `connection_string: the environment variable ${value.slice(4)} is not set`,
      'connection_string',
    )
  try {
    url = new URL(resolveSecret(value))
  } catch {
    throw invalid('connection_string is not a valid URL', 'connection_string')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid('connection_string must be an http(s) URL', 'connection_string')
  return value
}

function checkEnvs(envs: string[]): string[] {
  for (const entry of envs) {
    const name = entry.split('=', 1)[0] ?? ''
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw invalid(`stdio_config.envs: ${JSON.stringify(name)} is not a variable name`, 'stdio_config.envs')
  }
  return envs
}

function checkAuthType(value: string | undefined, headers: Record<string, string> | undefined): McpAuthType {
  const auth = value ?? (headers && Object.keys(headers).length > 0 ? 'headers' : 'none')
  if (auth !== 'none' && auth !== 'headers' && auth !== 'per_user_oauth')
    throw invalid(`auth_type ${auth} is not supported (none, headers or per_user_oauth)`, 'auth_type')
  return auth
}

/** A new client's configuration from a create request; 400 on anything unusable. */
export function normalizeCreate(input: McpClientCreateInput): McpClientConfig {
  const name = checkClientName(input.name)
  const type = input.connection_type
  if (type === undefined || type === '') throw invalid('connection_type is required', 'connection_type')
  if (type !== 'stdio' && type !== 'http' && type !== 'sse')
    throw invalid(`connection_type ${type} is not supported (stdio, http or sse)`, 'connection_type')
  const cfg: McpClientConfig = {
    client_id: input.client_id ?? randomUUID(),
    name,
    connection_type: type,
    auth_type: checkAuthType(input.auth_type, input.headers),
    tools_to_execute: input.tools_to_execute ?? [],
    tools_to_auto_execute: input.tools_to_auto_execute ?? [],
    is_ping_available: input.is_ping_available ?? true,
    tool_execution_timeout: input.tool_execution_timeout ?? 0,
    disabled: input.disabled ?? false,
    is_code_mode_client: input.is_code_mode_client ?? false,
    allow_on_all_virtual_keys: input.allow_on_all_virtual_keys ?? false,
  }
  // Heimdall's own field: present only when set, so that configs read as Bifrost's otherwise.
  if (input.allow_anonymous !== undefined) cfg.allow_anonymous = input.allow_anonymous
  if (cfg.auth_type === 'per_user_oauth') {
    if (type === 'stdio') throw invalid('auth_type per_user_oauth needs an http or sse client', 'auth_type')
    if (input.oauth_config !== undefined) cfg.oauth_config = { ...input.oauth_config }
  } else if (input.oauth_config !== undefined) {
    throw invalid('oauth_config applies to auth_type per_user_oauth only', 'oauth_config')
  }
  if (type === 'stdio') {
    const stdio = input.stdio_config
    if (!stdio || stdio.command.trim() === '')
      throw invalid('stdio_config.command is required for connection_type stdio', 'stdio_config.command')
    cfg.stdio_config = { command: stdio.command, args: stdio.args ?? [], envs: checkEnvs(stdio.envs ?? []) }
  } else {
    cfg.connection_string = checkUrl(connectionStringOf(input.connection_string), type)
    if (input.headers !== undefined) cfg.headers = { ...input.headers }
  }
  return cfg
}

/**
 * The configuration after an update (PATCH semantics). The connection itself (type, URL, command,
 * auth type) cannot change; repeating it unchanged is accepted, as clients often send the whole config.
 */
export function applyUpdate(current: McpClientConfig, input: McpClientUpdateInput): McpClientConfig {
  const fixed: [keyof typeof immutableFields, unknown, unknown][] = [
    ['connection_type', input.connection_type, current.connection_type],
    ['connection_string', connectionStringOf(input.connection_string), current.connection_string],
    ['auth_type', input.auth_type, current.auth_type],
  ]
  for (const [field, given, stored] of fixed) {
    if (given !== undefined && given !== stored)
      throw invalid(`${field} cannot be changed after creation`, field)
  }
  if (input.stdio_config !== undefined) {
    const s = input.stdio_config
    const c = current.stdio_config
    const same =
      c !== undefined &&
      s.command === c.command &&
      JSON.stringify(s.args ?? []) === JSON.stringify(c.args) &&
      (s.envs ?? []).length === c.envs.length
    if (!same) throw invalid('stdio_config cannot be changed after creation', 'stdio_config')
  }
  const next: McpClientConfig = { ...current }
  if (input.name !== undefined) next.name = checkClientName(input.name)
  if (input.headers !== undefined) {
    if (current.connection_type === 'stdio') throw invalid('headers do not apply to stdio clients', 'headers')
    // A value sent back redacted (as the list shows it) keeps the stored secret.
    next.headers = Object.fromEntries(
      Object.entries(input.headers).map(([k, v]) => {
        const stored = current.headers?.[k]
        return [k, stored !== undefined && isRedactedSecret(v) ? stored : v]
      }),
    )
  }
  if (input.oauth_config !== undefined) {
    if (current.auth_type !== 'per_user_oauth')
      throw invalid('oauth_config applies to auth_type per_user_oauth only', 'oauth_config')
    const secret = input.oauth_config.client_secret
    next.oauth_config = {
      ...input.oauth_config,
      ...(secret !== undefined &&
      isRedactedSecret(secret) &&
      current.oauth_config?.client_secret !== undefined
        ? { client_secret: current.oauth_config.client_secret }
        : {}),
    }
  }
  if (input.tools_to_execute !== undefined) next.tools_to_execute = input.tools_to_execute
  if (input.tools_to_auto_execute !== undefined) next.tools_to_auto_execute = input.tools_to_auto_execute
  if (input.is_ping_available !== undefined) next.is_ping_available = input.is_ping_available
  if (input.tool_execution_timeout !== undefined) next.tool_execution_timeout = input.tool_execution_timeout
  if (input.disabled !== undefined) next.disabled = input.disabled
  if (input.is_code_mode_client !== undefined) next.is_code_mode_client = input.is_code_mode_client
  if (input.allow_on_all_virtual_keys !== undefined)
    next.allow_on_all_virtual_keys = input.allow_on_all_virtual_keys
  if (input.allow_anonymous !== undefined) next.allow_anonymous = input.allow_anonymous
  return next
}

/** Whether a tool passes an include list (`["*"]` all, `[]` none). */
export function listIncludes(list: readonly string[], tool: string): boolean {
  return list.includes('*') || list.includes(tool)
}

/** A copy of the config with `f` applied to each literal secret: header values and `NAME=value` env values. */
export function mapClientSecrets(cfg: McpClientConfig, f: (value: string) => string): McpClientConfig {
  const out: McpClientConfig = { ...cfg }
  if (cfg.headers) {
    out.headers = Object.fromEntries(
      Object.entries(cfg.headers).map(([k, v]) => [k, isLiteral(v) ? f(v) : v]),
    )
  }
  const secret = cfg.oauth_config?.client_secret
  if (cfg.oauth_config && secret !== undefined && isLiteral(secret))
    out.oauth_config = { ...cfg.oauth_config, client_secret: f(secret) }
  if (cfg.stdio_config) {
    out.stdio_config = {
      ...cfg.stdio_config,
      envs: cfg.stdio_config.envs.map((entry) => {
        const at = entry.indexOf('=')
        if (at < 0) return entry
        const value = entry.slice(at + 1)
        return isLiteral(value) ? `${entry.slice(0, at + 1)}${f(value)}` : entry
      }),
    }
  }
  return out
}

function isLiteral(value: string): boolean {
  return value !== '' && !isEnvRef(value)
}

/** Whether two configs are the same (the stored JSON keeps key order, so this compares values). */
export function sameConfig(a: McpClientConfig, b: McpClientConfig): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  )
}
