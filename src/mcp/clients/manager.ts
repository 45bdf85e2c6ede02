import type { Tool } from '@modelcontextprotocol/sdk/types.js'
import { GatewayError } from '../../core/errors.js'
import type { McpCallOptions, McpCatalogSource, McpTool, McpToolResult, McpToolSource } from '../types.js'
import { catalogSource, indexCatalog, toMcpTool, type CatalogIndex } from './catalog.js'
import { clientView, type McpClientView } from './view.js'
import {
  applyUpdate,
  listIncludes,
  normalizeCreate,
  sameConfig,
  type McpClientConfig,
  type McpClientCreateInput,
  type McpClientUpdateInput,
} from './config.js'
import type { PerUserTokenSource } from '../oauth-client/service.js'
import {
  refusedStatus,
  McpConnection,
  type ConnectionTimings,
  type McpConnectionState,
} from './connection.js'
import { MemoryMcpClientRepo, type McpClientRepo } from './repo.js'
import { exposedToolNames } from './tool-names.js'

export const DEFAULT_TIMINGS: ConnectionTimings = {
  connectTimeoutMs: 10_000,
  initialBackoffMs: 500,
  maxBackoffMs: 30_000,
  healthIntervalMs: 30_000,
  callTimeoutMs: 60_000,
}

export interface McpClientManagerOptions {
  /** Where configs persist; nothing persists without one. */
  repo?: McpClientRepo
  timings?: Partial<ConnectionTimings>
  /** Resolves `env.VAR` references in headers and stdio envs, and supplies pass-through envs. */
  env?: NodeJS.ProcessEnv
  log?: (level: 'warn' | 'info', message: string) => void
  /** Tokens of `per_user_oauth` clients; without it such clients answer 401 to every call. */
  perUserAuth?: PerUserTokenSource
}

interface PerUserConnection {
  token: string
  connection: McpConnection
}

export type { McpClientState, McpClientView, McpToolFunction } from './view.js'

interface ExposedTool {
  tool: McpTool
  connection: McpConnection
}

/**
 * Heimdall's MCP clients: their configs (persisted through the repo), their supervised connections,
 * and the union of their tools as an McpToolSource. Tools are exposed as `<client>-<tool>` (see
 * tool-names.ts), only those the client's `tools_to_execute` lets through, and only while the
 * client is connected.
 */
export class McpClientManager implements McpToolSource, McpCatalogSource {
  private readonly connections = new Map<string, McpConnection>()
  private readonly listeners = new Set<() => void>()
  /** per_user_oauth: one connection per (client id, identity), opened on that identity's first call. */
  private readonly perUser = new Map<string, PerUserConnection>()
  private readonly opening = new Map<string, Promise<McpConnection>>()
  /** per_user_oauth: the tools the last identity connection found, as no shared connection lists them. */
  private readonly perUserTools = new Map<string, Tool[]>()
  /** per_user_oauth: the clients whose tools the admin verification credential listed, and why not. */
  private readonly verified = new Set<string>()
  private readonly verifyErrors = new Map<string, string>()
  private readonly repo: McpClientRepo
  private readonly timings: ConnectionTimings
  private index: Map<string, ExposedTool> | undefined
  private catalogIndex: CatalogIndex | undefined
  private closed = false
  /** Changes to the set of connections (add, update, remove, sync) run one at a time. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly opts: McpClientManagerOptions = {}) {
    this.repo = opts.repo ?? new MemoryMcpClientRepo()
    this.timings = { ...DEFAULT_TIMINGS, ...opts.timings }
  }

  /**
   * Loads the stored clients, then adds each of `fileClients` (config.json's `mcp.client_configs`)
   * whose name is not stored yet: the store wins over the file once a client exists, as it does for
   * providers. Connections are started, not awaited. A file entry that is not a valid config throws,
   * naming the entry.
   */
  async load(fileClients: readonly unknown[] = []): Promise<void> {
    const stored = await this.repo.list()
    for (const cfg of stored) this.startConnection(cfg).catch(() => undefined)
    const names = new Set(stored.map((c) => c.name))
    for (const [i, entry] of fileClients.entries()) {
      let cfg: McpClientConfig
      try {
        cfg = normalizeCreate(entry as McpClientCreateInput)
      } catch (err) {
        throw new Error(`mcp.client_configs[${i}]: ${(err as Error).message}`, { cause: err })
      }
      if (names.has(cfg.name)) continue
      names.add(cfg.name)
      await this.repo.put(cfg)
      this.startConnection(cfg).catch(() => undefined)
    }
  }

  /** Adds a client and waits for its first connection attempt (bounded by the connect timeout). */
  async add(input: McpClientCreateInput): Promise<McpClientView> {
    const cfg = normalizeCreate(input)
    const started = await this.exclusive(async () => {
      if (this.connections.has(cfg.client_id))
        throw new GatewayError('conflict', `an MCP client with id ${cfg.client_id} already exists`)
      this.assertNameFree(cfg.name, cfg.client_id)
      await this.repo.put(cfg)
      return { done: this.startConnection(cfg) }
    })
    await started.done
    return this.view(this.find(cfg.client_id))
  }

  /** Changes a client (PATCH semantics) and connects it again with its new config. */
  async update(id: string, input: McpClientUpdateInput): Promise<McpClientView> {
    const started = await this.exclusive(async () => {
      const current = this.find(id)
      const cfg = applyUpdate(current.config, input)
      this.assertNameFree(cfg.name, id)
      await this.repo.put(cfg)
      return this.restart(current, cfg)
    })
    await started.done
    return this.view(this.find(id))
  }

  /** Removes a client; its connection is closed (a stdio server's process killed) first. */
  async remove(id: string): Promise<McpClientView> {
    return this.exclusive(async () => {
      const connection = this.find(id)
      const view = this.view(connection)
      await this.repo.delete(id)
      await this.drop(id, connection)
      return view
    })
  }

  /**
   * Makes the connections match the stored clients (another node changed them): clients no longer
   * stored are closed, new ones connected, changed ones connected again with their new config;
   * unchanged ones are left alone. Connections are started, not awaited.
   */
  async sync(): Promise<void> {
    await this.exclusive(async () => {
      if (this.closed) return
      const stored = await this.repo.list()
      const wanted = new Set(stored.map((c) => c.client_id))
      for (const [id, connection] of [...this.connections]) {
        if (!wanted.has(id)) await this.drop(id, connection)
      }
      for (const cfg of stored) {
        const current = this.connections.get(cfg.client_id)
        if (!current) this.startConnection(cfg).catch(() => undefined)
        else if (!sameConfig(current.config, cfg))
          (await this.restart(current, cfg)).done.catch(() => undefined)
      }
    })
  }

  /** Runs `f` after every change under way; a failure of one does not stop the next. */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f)
    this.queue = run.catch(() => undefined)
    return run
  }

  /** Closes a client's connections and forgets it (its stored config is the caller's business). */
  private async drop(id: string, connection: McpConnection): Promise<void> {
    this.connections.delete(id)
    this.perUserTools.delete(id)
    this.forgetVerification(id)
    this.changed()
    await connection.close()
    await this.closePerUser(id)
  }

  /**
   * Replaces a client's connection with one on its new config. Resolves once the new connection is
   * in place, with `done`: its first connection attempt.
   */
  private async restart(current: McpConnection, cfg: McpClientConfig): Promise<{ done: Promise<void> }> {
    const id = cfg.client_id
    await current.close()
    await this.closePerUser(id)
    this.forgetVerification(id)
    return { done: this.startConnection(cfg) }
  }

  /** Drops a client's connection and connects again, waiting for the attempt. */
  async reconnect(id: string): Promise<McpClientView> {
    const connection = this.find(id)
    if (connection.config.disabled)
      throw new GatewayError('invalid_request', `MCP client ${connection.config.name} is disabled`)
    if (connection.config.auth_type === 'per_user_oauth') await this.closePerUser(id)
    else await connection.reconnect()
    return this.view(connection)
  }

  list(): McpClientView[] {
    return [...this.connections.values()].map((c) => this.view(c))
  }

  get(id: string): McpClientView {
    return this.view(this.find(id))
  }

  /** A client's state, last error and (stdio) server process id. */
  status(id: string): { state: McpConnectionState; error?: string; pid?: number } {
    const c = this.find(id)
    return { state: c.state, error: c.lastError, pid: c.pid }
  }

  listTools(): McpTool[] {
    return [...this.exposed().values()].map((e) => e.tool)
  }

  async callTool(
    name: string,
    args: Record<string, unknown>,
    opts: McpCallOptions = {},
  ): Promise<McpToolResult> {
    const entry = this.exposed().get(name)
    const perUser = entry ?? this.perUserTarget(name)
    if (perUser?.connection.config.auth_type === 'per_user_oauth')
      return this.callPerUser(perUser.connection, perUser.tool.toolName, args, opts)
    if (!entry) {
      const down = [...this.connections.values()].find(
        (c) => name.startsWith(`${c.config.name}-`) && c.state !== 'connected',
      )
      if (down) {
        throw new GatewayError(
          'upstream_connection_error',
          `MCP client ${down.config.name} is not connected (${down.state}${down.lastError ? `: ${down.lastError}` : ''})`,
        )
      }
      throw new GatewayError('not_found', `MCP tool ${name} not found`)
    }
    return entry.connection.callTool(entry.tool.toolName, args, opts)
  }

  // Prompts and resources: those of the shared connections (per_user_oauth clients offer none yet).
  private readonly catalogView = catalogSource(
    () => (this.catalogIndex ??= indexCatalog(this.connections.values())),
  )
  readonly listPrompts: McpCatalogSource['listPrompts'] = () => this.catalogView.listPrompts()
  readonly getPrompt: McpCatalogSource['getPrompt'] = (...a) => this.catalogView.getPrompt(...a)
  readonly listResources: McpCatalogSource['listResources'] = () => this.catalogView.listResources()
  readonly listResourceTemplates: McpCatalogSource['listResourceTemplates'] = () =>
    this.catalogView.listResourceTemplates()
  readonly readResource: McpCatalogSource['readResource'] = (...a) => this.catalogView.readResource(...a)
  readonly complete: McpCatalogSource['complete'] = (...a) => this.catalogView.complete(...a)
  readonly watchResource: McpCatalogSource['watchResource'] = (...a) => this.catalogView.watchResource(...a)

  isCodeModeClient(client: string): boolean {
    return [...this.connections.values()].some(
      (c) => c.config.name === client && c.config.is_code_mode_client,
    )
  }

  autoExecutes(name: string): boolean {
    const entry = this.exposed().get(name)
    return (
      entry !== undefined && listIncludes(entry.connection.config.tools_to_auto_execute, entry.tool.toolName)
    )
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Lists a per_user_oauth client's tools with its admin verification credential (discovery only:
   * every call still uses the caller's own credential), so that they are known to access checks
   * and tool injection before anyone has logged in. The client is `connected` once this worked.
   */
  async verify(id: string): Promise<McpClientView> {
    const base = this.find(id)
    const cfg = base.config
    if (cfg.auth_type !== 'per_user_oauth')
      throw new GatewayError('invalid_request', `MCP client ${cfg.name} is not a per_user_oauth client`)
    const token = await this.opts.perUserAuth?.discoveryToken?.(cfg)
    if (token === undefined) {
      this.verified.delete(id)
      this.verifyErrors.delete(id)
      this.changed()
      throw new GatewayError('invalid_request', `MCP client ${cfg.name} has no admin verification credential`)
    }
    const connection = new McpConnection(
      { ...cfg, headers: { ...cfg.headers, Authorization: `Bearer ${token}` } },
      { ...this.timings, healthIntervalMs: 0 },
      { onChange: () => undefined, onLog: this.opts.log },
      this.opts.env,
    )
    try {
      await connection.start()
      if (connection.state !== 'connected') {
        const message = connection.lastError ?? 'not connected'
        if (connection.lastStatus === 401) {
          await this.opts.perUserAuth?.rejectDiscoveryToken?.(cfg)
        }
        this.verified.delete(id)
        this.verifyErrors.set(id, message)
        this.changed()
        throw new GatewayError('upstream_connection_error', `MCP client ${cfg.name}: ${message}`)
      }
      // The client may have been changed or removed meanwhile.
      if (this.connections.get(id) !== base) return this.get(id)
      this.perUserTools.set(id, connection.tools)
      this.verified.add(id)
      this.verifyErrors.delete(id)
      this.changed()
      return this.view(base)
    } finally {
      await connection.close()
    }
  }

  private forgetVerification(id: string): void {
    this.verified.delete(id)
    this.verifyErrors.delete(id)
  }

  /** The unredacted config of a client (for per-user OAuth), or undefined. */
  config(id: string): McpClientConfig | undefined {
    return this.connections.get(id)?.config
  }

  /**
   * A tool of a per_user_oauth client no identity has connected to yet (so its tools are not
   * known): `<client>-<tool>` is taken at its word, so that the call can answer `mcp_auth_required`.
   */
  private perUserTarget(name: string): { connection: McpConnection; tool: { toolName: string } } | undefined {
    for (const connection of this.connections.values()) {
      const prefix = `${connection.config.name}-`
      if (
        connection.config.auth_type === 'per_user_oauth' &&
        !connection.config.disabled &&
        name.startsWith(prefix)
      )
        return { connection, tool: { toolName: name.slice(prefix.length) } }
    }
    return undefined
  }

  private async callPerUser(
    base: McpConnection,
    toolName: string,
    args: Record<string, unknown>,
    opts: McpCallOptions,
  ): Promise<McpToolResult> {
    const auth = this.opts.perUserAuth
    const { name } = base.config
    if (!auth || opts.identity === undefined) {
      throw new GatewayError(
        'unauthorized',
        `MCP client ${name} needs a per-user login: call it with a virtual key, a signed-in user or an x-bf-mcp-session-id`,
        { type: 'mcp_auth_required', retryable: false },
      )
    }
    const identity = opts.identity
    for (let retried = false; ; retried = true) {
      const connection = await this.perUserConnection(base, identity)
      try {
        return await connection.callTool(toolName, args, opts)
      } catch (err) {
        const status = refusedStatus(err)
        const challenge = connection.lastChallenge
        if (!status || (status === 403 && challenge?.error !== 'insufficient_scope')) throw err
        await this.dropPerUser(base.config.client_id, identity)
        // A token refused before its expiry: one refresh grant, and the call once more.
        if (status === 401 && !retried && (await auth.refreshRejected?.(base.config, identity))) continue
        throw await auth.rejectToken(base.config, identity, challenge)
      }
    }
  }

  /** The identity's connection, (re)opened with its current token; one opening at a time per identity. */
  private perUserConnection(base: McpConnection, identity: string): Promise<McpConnection> {
    const key = `${base.config.client_id}\n${identity}`
    let pending = this.opening.get(key)
    if (!pending) {
      pending = this.openPerUser(base, identity, key).finally(() => this.opening.delete(key))
      this.opening.set(key, pending)
    }
    return pending
  }

  private async openPerUser(
    base: McpConnection,
    identity: string,
    key: string,
    retried = false,
  ): Promise<McpConnection> {
    const auth = this.opts.perUserAuth
    if (!auth) throw new GatewayError('internal', 'per-user OAuth is not configured')
    const token = await auth.accessToken(base.config, identity)
    const existing = this.perUser.get(key)
    if (existing?.token === token && existing.connection.state === 'connected') return existing.connection
    if (existing) await this.dropPerUser(base.config.client_id, identity)
    const cfg: McpClientConfig = {
      ...base.config,
      headers: { ...base.config.headers, Authorization: `Bearer ${token}` },
    }
    const connection = new McpConnection(
      cfg,
      { ...this.timings, healthIntervalMs: 0 },
      { onChange: () => undefined, onLog: this.opts.log },
      this.opts.env,
    )
    await connection.start()
    if (connection.state !== 'connected') {
      const { lastStatus, lastError } = connection
      await connection.close()
      const challenge = connection.lastChallenge
      if (lastStatus === 401 && !retried && (await auth.refreshRejected?.(base.config, identity)))
        return this.openPerUser(base, identity, key, true)
      if (lastStatus === 401 || (lastStatus === 403 && challenge?.error === 'insufficient_scope'))
        throw await auth.rejectToken(base.config, identity, challenge)
      throw new GatewayError(
        'upstream_connection_error',
        `MCP client ${base.config.name}: ${lastError ?? 'not connected'}`,
      )
    }
    this.perUser.set(key, { token, connection })
    const known = this.perUserTools.get(base.config.client_id)
    this.perUserTools.set(base.config.client_id, connection.tools)
    if (JSON.stringify(known) !== JSON.stringify(connection.tools)) this.changed()
    return connection
  }

  private async dropPerUser(clientId: string, identity: string): Promise<void> {
    const key = `${clientId}\n${identity}`
    const existing = this.perUser.get(key)
    this.perUser.delete(key)
    await existing?.connection.close()
  }

  private async closePerUser(clientId: string): Promise<void> {
    const closing: Promise<void>[] = []
    for (const [key, entry] of this.perUser) {
      if (!key.startsWith(`${clientId}\n`)) continue
      this.perUser.delete(key)
      closing.push(entry.connection.close())
    }
    await Promise.all(closing)
  }

  /** Closes every connection; no stdio server process is left when this resolves. */
  async close(): Promise<void> {
    this.closed = true
    const all = [...this.connections.values(), ...[...this.perUser.values()].map((p) => p.connection)]
    this.connections.clear()
    this.perUser.clear()
    await Promise.all(all.map((c) => c.close()))
    this.changed()
  }

  private find(id: string): McpConnection {
    const c = this.connections.get(id)
    if (!c) throw new GatewayError('not_found', `MCP client ${id} not found`)
    return c
  }

  private assertNameFree(name: string, id: string): void {
    for (const c of this.connections.values()) {
      if (c.config.name === name && c.config.client_id !== id)
        throw new GatewayError('conflict', `an MCP client named ${name} already exists`)
    }
  }

  private startConnection(cfg: McpClientConfig): Promise<void> {
    if (this.closed) throw new GatewayError('shutting_down', 'the MCP client manager is closed')
    const connection = new McpConnection(
      cfg,
      this.timings,
      { onChange: () => this.changed(), onLog: this.opts.log },
      this.opts.env,
    )
    this.connections.set(cfg.client_id, connection)
    this.changed()
    // A per-user client has no shared connection: each identity connects with its own token. Its
    // tools are listed with a stored admin verification credential, if there is one.
    if (cfg.auth_type === 'per_user_oauth') {
      if (!cfg.disabled && this.opts.perUserAuth?.discoveryToken)
        this.verify(cfg.client_id).catch(() => undefined)
      return Promise.resolve()
    }
    return connection.start()
  }

  private changed(): void {
    this.index = undefined
    this.catalogIndex = undefined
    for (const listener of this.listeners) {
      try {
        listener()
      } catch {
        // a listener's failure is its own
      }
    }
  }

  private exposed(): Map<string, ExposedTool> {
    if (this.index) return this.index
    const index = new Map<string, ExposedTool>()
    for (const connection of this.connections.values()) {
      const perUser = connection.config.auth_type === 'per_user_oauth' && !connection.config.disabled
      if (connection.state !== 'connected' && !perUser) continue
      const tools = perUser ? (this.perUserTools.get(connection.config.client_id) ?? []) : connection.tools
      const { name, tools_to_execute } = connection.config
      const names = exposedToolNames(
        name,
        tools.map((t) => t.name),
      )
      for (const tool of tools) {
        if (!listIncludes(tools_to_execute, tool.name)) continue
        const exposedName = names.get(tool.name) ?? tool.name
        index.set(exposedName, { tool: toMcpTool(exposedName, connection.config, tool), connection })
      }
    }
    this.index = index
    return index
  }

  private view(c: McpConnection): McpClientView {
    const id = c.config.client_id
    return clientView(c, {
      tools: this.perUserTools.get(id),
      verified: this.verified.has(id),
      verifyError: this.verifyErrors.get(id),
    })
  }
}
