import type { ExpressionBuilder, Kysely } from 'kysely'
import type {
  ConfigStoreTables,
  McpOAuthCredentialsTables,
  McpOAuthFlowsTable,
  McpOAuthTokensTable,
} from '../../store/index.js'
import { ADMIN_AUTH_MODE, callerBindings, type McpIdentity, type McpSessionCaller } from './identity.js'

type CredentialsDb = Kysely<ConfigStoreTables & McpOAuthCredentialsTables>

/** Bifrost's MCPSessionRow: one per-user credential or pending login, as `GET /api/mcp/sessions` lists it. */
export interface McpSessionRow {
  id: string
  kind: 'token' | 'flow'
  auth_kind: 'oauth'
  auth_mode: McpIdentity['mode']
  status: 'active' | 'orphaned' | 'needs_reauth' | 'pending'
  created_at: string
  can_reauth: boolean
  user_id?: string
  user?: { id: string; name: string }
  virtual_key?: { id: string; name: string }
  mcp_client?: { client_id: string; name: string }
  session_id?: string
  expires_at?: string
  last_refreshed_at?: string
  updated_at?: string
  oauth_config_id?: string
}

/** Names shown with a row's user, virtual key and MCP client. */
export interface SessionLabels {
  user(id: string): string | undefined
  virtualKey(id: string): string | undefined
  client(id: string): string | undefined
}

function bindingFields(
  row: Pick<McpOAuthTokensTable, 'auth_mode' | 'identity_id' | 'mcp_client_id'>,
  caller: McpSessionCaller,
  labels: SessionLabels,
) {
  const out: Partial<McpSessionRow> = {
    can_reauth: row.auth_mode !== 'user' || caller.userId === row.identity_id,
  }
  if (row.auth_mode === 'user') {
    out.user_id = row.identity_id
    const name = labels.user(row.identity_id)
    if (name !== undefined) out.user = { id: row.identity_id, name }
  } else if (row.auth_mode === 'vk') {
    out.virtual_key = { id: row.identity_id, name: labels.virtualKey(row.identity_id) ?? '' }
  } else {
    out.session_id = row.identity_id
  }
  out.mcp_client = { client_id: row.mcp_client_id, name: labels.client(row.mcp_client_id) ?? '' }
  return out
}

export function tokenRow(
  t: McpOAuthTokensTable,
  caller: McpSessionCaller,
  labels: SessionLabels,
): McpSessionRow {
  const row: McpSessionRow = {
    id: t.id,
    kind: 'token',
    auth_kind: 'oauth',
    auth_mode: t.auth_mode,
    status: t.status,
    created_at: t.created_at,
    can_reauth: false,
    ...bindingFields(t, caller, labels),
    updated_at: t.updated_at,
  }
  if (t.expires_at !== null) row.expires_at = t.expires_at
  if (t.last_refreshed_at !== null) row.last_refreshed_at = t.last_refreshed_at
  if (t.oauth_config_id !== null) row.oauth_config_id = t.oauth_config_id
  return row
}

export function flowRow(
  f: McpOAuthFlowsTable,
  caller: McpSessionCaller,
  labels: SessionLabels,
): McpSessionRow {
  const row: McpSessionRow = {
    id: f.id,
    kind: 'flow',
    auth_kind: 'oauth',
    auth_mode: f.auth_mode,
    status: 'pending',
    created_at: f.created_at,
    can_reauth: false,
    ...bindingFields(f, caller, labels),
    expires_at: f.expires_at,
  }
  if (f.oauth_config_id !== null) row.oauth_config_id = f.oauth_config_id
  return row
}

export const bindingKey = (r: Pick<McpOAuthTokensTable, 'auth_mode' | 'identity_id' | 'mcp_client_id'>) =>
  `${r.auth_mode}\n${r.identity_id}\n${r.mcp_client_id}`

export function visibleTo(
  row: Pick<McpOAuthTokensTable, 'auth_mode' | 'identity_id'>,
  caller: McpSessionCaller,
): boolean {
  if (caller.admin) return row.auth_mode !== ADMIN_AUTH_MODE
  return callerBindings(caller).some((b) => b.mode === row.auth_mode && b.id === row.identity_id)
}

/**
 * Every per-user credential and pending flow (open at `nowIso`) the caller may see (Bifrost's
 * `GET /api/mcp/sessions`); a binding with a credential does not list its flow too.
 */
export async function listSessionRows(
  db: CredentialsDb,
  caller: McpSessionCaller,
  labels: SessionLabels,
  nowIso: string,
): Promise<McpSessionRow[]> {
  const bindings = callerBindings(caller)
  if (bindings.length === 0 && !caller.admin) return []
  // The admin sees every binding but the admin verification credential, which no caller may use.
  const visible = (
    eb: ExpressionBuilder<
      ConfigStoreTables & McpOAuthCredentialsTables,
      'mcp_oauth_tokens' | 'mcp_oauth_flows'
    >,
  ) =>
    caller.admin
      ? eb('auth_mode', '!=', ADMIN_AUTH_MODE)
      : eb.or(bindings.map((b) => eb.and([eb('auth_mode', '=', b.mode), eb('identity_id', '=', b.id)])))
  const tokens = await db
    .selectFrom('mcp_oauth_tokens')
    .selectAll()
    .where(visible)
    .orderBy('created_at')
    .execute()
  const flows = await db
    .selectFrom('mcp_oauth_flows')
    .selectAll()
    .where('status', '=', 'pending')
    .where('expires_at', '>', nowIso)
    .where(visible)
    .orderBy('created_at')
    .execute()
  const bound = new Set(tokens.map((t) => bindingKey(t)))
  return [
    ...tokens.map((t) => tokenRow(t, caller, labels)),
    ...flows.filter((f) => !bound.has(bindingKey(f))).map((f) => flowRow(f, caller, labels)),
  ]
}

/** A credential by id, when the caller may see it. */
export async function visibleToken(
  db: CredentialsDb,
  id: string,
  caller: McpSessionCaller,
): Promise<McpOAuthTokensTable | undefined> {
  const row = await db.selectFrom('mcp_oauth_tokens').selectAll().where('id', '=', id).executeTakeFirst()
  return row && visibleTo(row, caller) ? row : undefined
}

/** A pending login by id, when the caller may see it. */
export async function visibleFlow(
  db: CredentialsDb,
  id: string,
  caller: McpSessionCaller,
): Promise<McpOAuthFlowsTable | undefined> {
  const row = await db.selectFrom('mcp_oauth_flows').selectAll().where('id', '=', id).executeTakeFirst()
  return row && visibleTo(row, caller) ? row : undefined
}
