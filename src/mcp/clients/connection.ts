import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js'
import { extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import {
  ErrorCode,
  LoggingMessageNotificationSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
  type CompleteRequest,
  type Prompt,
  type Resource,
  type ResourceTemplate,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js'
import { resolveSecret } from '../../core/config.js'
import { GatewayError } from '../../core/errors.js'
import type { McpCallOptions, McpRequestOptions, McpToolResult } from '../types.js'
import { fetchCatalog, fetchCatalogPart, type CatalogPart } from './catalog-fetch.js'
import { connectionUrl, type McpClientConfig } from './config.js'

/** Bifrost's connection states, as far as Heimdall's client kinds reach them. */
export type McpConnectionState = 'connected' | 'disconnected' | 'error' | 'disabled'

export interface ConnectionTimings {
  /** How long a connection attempt (spawn or HTTP, then MCP initialize and tools/list) may take. */
  connectTimeoutMs: number
  /** First wait before reconnecting; doubles at each failure up to `maxBackoffMs`. */
  initialBackoffMs: number
  maxBackoffMs: number
  /** How often a connected client is checked (ping, or tools/list); 0 turns the check off. */
  healthIntervalMs: number
  /** A tool call's timeout when neither the caller nor the client config gives one. */
  callTimeoutMs: number
}

export interface ConnectionEvents {
  /** The client's tools or state changed. */
  onChange(): void
  onLog?(level: 'warn' | 'info', message: string): void
}

/** How long a connection must have lived for the next failure to start again at the first backoff. */
const STABLE_MS = 10_000

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err))

/**
 * One MCP client's connection to its server, supervised: it connects with a timeout, reconnects with
 * exponential backoff after a failure or after the server (or its process) goes away, and shows no
 * tools while it is down. A stdio server's process is killed when the connection closes.
 */
export class McpConnection {
  state: McpConnectionState = 'disconnected'
  /** Why the last attempt failed, or why the connection went down. */
  lastError: string | undefined
  /** The HTTP status of the last failed connection attempt, when the server answered one (401: token refused). */
  lastStatus: number | undefined
  /** The server's tools, prompts, resources and resource templates while connected. */
  tools: Tool[] = []
  prompts: Prompt[] = []
  resources: Resource[] = []
  resourceTemplates: ResourceTemplate[] = []
  /** Listeners of `notifications/resources/updated`, by URI; the server is subscribed while any is. */
  private readonly watchers = new Map<string, Set<() => void>>()
  /** The calls running now; an upstream log message is relayed only when exactly one is. */
  private readonly running = new Set<McpCallOptions>()

  private client: Client | undefined
  private transport: Transport | undefined
  private attempt = 0
  private connectedAt = 0
  private retryTimer: NodeJS.Timeout | undefined
  private healthTimer: NodeJS.Timeout | undefined
  /** Bumped on every (re)connect and on close, so that callbacks of an old connection do nothing. */
  private generation = 0
  private closed = false
  private connecting: Promise<void> | undefined
  /** The `WWW-Authenticate` parameters of the server's last 401 or 403 (per-user OAuth's refresh and step-up). */
  lastChallenge: { error?: string; scope?: string } | undefined
  /** fetch for the HTTP transport, noting the challenge of a 401 or 403. */
  private readonly noteChallenges = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const res = await fetch(input, init)
    if (res.status === 401 || res.status === 403) this.lastChallenge = extractWWWAuthenticateParams(res)
    return res
  }

  constructor(
    readonly config: McpClientConfig,
    private readonly timings: ConnectionTimings,
    private readonly events: ConnectionEvents,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    if (config.disabled) this.state = 'disabled'
  }

  /** The stdio server's process id while it runs. */
  get pid(): number | undefined {
    return this.transport instanceof StdioClientTransport ? (this.transport.pid ?? undefined) : undefined
  }

  /** Starts connecting; resolves after the first attempt, whatever its outcome. */
  start(): Promise<void> {
    if (this.config.disabled || this.closed) return Promise.resolve()
    return this.connect()
  }

  /** Drops the current connection and connects again at once. */
  async reconnect(): Promise<void> {
    if (this.closed || this.config.disabled) return
    this.attempt = 0
    await this.teardown()
    await this.connect()
  }

  /** Closes the connection for good; a stdio server's process is gone when this resolves. */
  async close(): Promise<void> {
    this.closed = true
    await this.teardown()
  }

  private connect(): Promise<void> {
    this.connecting ??= this.attemptConnect().finally(() => {
      this.connecting = undefined
    })
    return this.connecting
  }

  private async attemptConnect(): Promise<void> {
    clearTimeout(this.retryTimer)
    const generation = ++this.generation
    const client = new Client({ name: 'heimdall', version: '0.1.0' }, { capabilities: {} })
    let transport: Transport | undefined
    const abort = new AbortController()
    const timer = setTimeout(() => abort.abort(), this.timings.connectTimeoutMs)
    try {
      transport = this.createTransport()
      this.client = client
      this.transport = transport
      const timedOut = new Promise<never>((_, reject) =>
        abort.signal.addEventListener('abort', () =>
          reject(new Error(`no answer within ${this.timings.connectTimeoutMs} ms`)),
        ),
      )
      timedOut.catch(() => undefined)
      const options = { signal: abort.signal, timeout: this.timings.connectTimeoutMs }
      await Promise.race([client.connect(transport, options), timedOut])
      client.onclose = () => this.lost(generation, 'the connection closed')
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        this.refresh(generation, 'tools').catch(() => undefined)
      })
      client.setNotificationHandler(PromptListChangedNotificationSchema, () => {
        this.refresh(generation, 'prompts').catch(() => undefined)
      })
      client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
        Promise.all([
          this.refresh(generation, 'resources'),
          this.refresh(generation, 'resourceTemplates'),
        ]).catch(() => undefined)
      })
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
        for (const listener of this.watchers.get(n.params.uri) ?? []) listener()
      })
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
        // Notifications carry no request id: only a lone running call can be said to have caused it.
        if (this.running.size !== 1) return
        const [call] = this.running
        call.onLog?.({ level: n.params.level, logger: n.params.logger, data: n.params.data })
      })
      const catalog = await Promise.race([fetchCatalog(client, options), timedOut])
      if (generation !== this.generation) return
      const { tools } = catalog
      Object.assign(this, catalog)
      // Subscriptions do not survive a new connection: made again (a refusal leaves that URI unwatched).
      for (const uri of this.watchers.keys())
        client.subscribeResource({ uri }, options).catch(() => undefined)
      this.state = 'connected'
      this.lastError = undefined
      this.lastStatus = undefined
      this.connectedAt = Date.now()
      this.startHealthChecks(generation)
      this.events.onLog?.('info', `MCP client ${this.config.name} connected (${tools.length} tools)`)
      this.events.onChange()
    } catch (err) {
      if (transport) await this.closeTransport(client, transport)
      if (generation !== this.generation) return
      this.client = undefined
      this.transport = undefined
      this.state = 'error'
      this.lastStatus = err instanceof StreamableHTTPError ? err.code : undefined
      this.lastError = `connecting failed: ${errorText(err)}`
      this.events.onLog?.('warn', `MCP client ${this.config.name}: ${this.lastError}`)
      this.events.onChange()
      this.scheduleRetry()
    } finally {
      clearTimeout(timer)
    }
  }

  private createTransport(): Transport {
    const cfg = this.config
    if (cfg.connection_type === 'stdio') {
      const stdio = cfg.stdio_config
      if (!stdio) throw new GatewayError('invalid_request', `MCP client ${cfg.name} has no stdio_config`)
      const env: Record<string, string> = {}
      for (const entry of stdio.envs) {
        const at = entry.indexOf('=')
        if (at < 0) {
          const value = this.env[entry]
          if (value !== undefined) env[entry] = value
        } else {
          env[entry.slice(0, at)] = resolveSecret(entry.slice(at + 1), this.env)
        }
      }
      // stderr is drained but not shown: a chatty server must not fill the gateway's log.
      return new StdioClientTransport({ command: stdio.command, args: stdio.args, env, stderr: 'ignore' })
    }
    const url = new URL(connectionUrl(cfg, this.env))
    const headers = Object.fromEntries(
      Object.entries(cfg.headers ?? {}).map(([k, v]) => [k, resolveSecret(v, this.env)]),
    )
    if (cfg.connection_type === 'sse') {
      return new SSEClientTransport(url, {
        requestInit: { headers },
        eventSourceInit: { fetch: withHeaders(headers) },
      })
    }
    return new StreamableHTTPClientTransport(url, { requestInit: { headers }, fetch: this.noteChallenges })
  }

  /** Lists one part of the catalog again after the server said it changed. */
  private async refresh(generation: number, part: CatalogPart): Promise<void> {
    const client = this.client
    if (!client || generation !== this.generation || this.state !== 'connected') return
    const items = await fetchCatalogPart(client, part, { timeout: this.timings.connectTimeoutMs })
    if (generation !== this.generation) return
    Object.assign(this, { [part]: items })
    this.events.onChange()
  }

  private startHealthChecks(generation: number): void {
    clearInterval(this.healthTimer)
    if (this.timings.healthIntervalMs <= 0) return
    this.healthTimer = setInterval(() => {
      const client = this.client
      if (!client || generation !== this.generation) return
      const options = { timeout: this.timings.connectTimeoutMs }
      const check = this.config.is_ping_available
        ? client.ping(options)
        : fetchCatalogPart(client, 'tools', options)
      check.catch((err: unknown) => this.lost(generation, `health check failed: ${errorText(err)}`))
    }, this.timings.healthIntervalMs)
    this.healthTimer.unref()
  }

  /** The connection (or the server's process) went away: hide the tools and come back later. */
  private lost(generation: number, reason: string): void {
    if (generation !== this.generation || this.closed) return
    this.generation++
    clearInterval(this.healthTimer)
    const { client, transport } = this
    this.client = undefined
    this.transport = undefined
    if (client && transport) this.closeTransport(client, transport).catch(() => undefined)
    if (Date.now() - this.connectedAt >= STABLE_MS) this.attempt = 0
    this.state = 'disconnected'
    this.lastError = reason
    this.clearCatalog()
    this.events.onLog?.('warn', `MCP client ${this.config.name}: ${reason}`)
    this.events.onChange()
    this.scheduleRetry()
  }

  private scheduleRetry(): void {
    if (this.closed) return
    const delay = Math.min(this.timings.initialBackoffMs * 2 ** this.attempt, this.timings.maxBackoffMs)
    this.attempt++
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => {
      this.connect().catch(() => undefined)
    }, delay)
    this.retryTimer.unref()
  }

  private async teardown(): Promise<void> {
    this.generation++
    clearTimeout(this.retryTimer)
    clearInterval(this.healthTimer)
    await this.connecting?.catch(() => undefined)
    const { client, transport } = this
    this.client = undefined
    this.transport = undefined
    this.clearCatalog()
    if (client && transport) await this.closeTransport(client, transport)
    this.state = this.config.disabled ? 'disabled' : 'disconnected'
  }

  private clearCatalog(): void {
    this.tools = []
    this.prompts = []
    this.resources = []
    this.resourceTemplates = []
  }

  private async closeTransport(client: Client, transport: Transport): Promise<void> {
    client.onclose = undefined
    const pid = transport instanceof StdioClientTransport ? transport.pid : null
    if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
      // Ends the upstream session (DELETE), so that servers do not keep it until it expires.
      await withTimeout(transport.terminateSession(), 2000).catch(() => undefined)
    }
    await withTimeout(client.close(), 5000).catch(() => undefined)
    // The SDK escalates to SIGKILL itself; this covers a close that timed out or threw.
    if (pid !== null && isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone meanwhile
      }
    }
  }

  /**
   * Calls one of the server's tools. A streamable HTTP session the server no longer knows (404)
   * is re-initialized once and the call retried.
   */
  async callTool(
    toolName: string,
    args: Record<string, unknown>,
    opts: McpCallOptions,
  ): Promise<McpToolResult> {
    this.running.add(opts)
    try {
      return await this.request(toolName, opts, async (client, timeout) => {
        const onprogress = opts.onProgress
        const result = await client.callTool({ name: toolName, arguments: args }, undefined, {
          signal: opts.signal,
          timeout,
          // Each progress notification also restarts the deadline, as long-running tools expect.
          ...(onprogress && {
            onprogress: (p) => onprogress({ progress: p.progress, total: p.total, message: p.message }),
            resetTimeoutOnProgress: true,
          }),
        })
        return result as McpToolResult
      })
    } finally {
      this.running.delete(opts)
    }
  }

  /** `prompts/get` on the server, its result as the server gave it. */
  getPrompt(
    name: string,
    args: Record<string, string>,
    opts: McpRequestOptions,
  ): Promise<Record<string, unknown>> {
    return this.request(name, opts, (client, timeout) =>
      client.getPrompt({ name, arguments: args }, { signal: opts.signal, timeout }),
    )
  }

  /** `resources/read` on the server, its result as the server gave it. */
  readResource(uri: string, opts: McpRequestOptions): Promise<Record<string, unknown>> {
    return this.request(uri, opts, (client, timeout) =>
      client.readResource({ uri }, { signal: opts.signal, timeout }),
    )
  }

  /** `completion/complete` on the server; no suggestions when it offers no completions. */
  async complete(
    params: CompleteRequest['params'],
    opts: McpRequestOptions,
  ): Promise<Record<string, unknown>> {
    if (!this.connectedClient().getServerCapabilities()?.completions)
      return { completion: { values: [], hasMore: false } }
    return this.request(params.argument.name, opts, (client, timeout) =>
      client.complete(params, { signal: opts.signal, timeout }),
    )
  }

  /**
   * Watches a resource (`resources/subscribe` upstream on its first watcher, `unsubscribe` after
   * its last); resolves to the way to stop. A server without subscriptions refuses.
   */
  async watchResource(uri: string, listener: () => void, opts: McpRequestOptions): Promise<() => void> {
    if (!this.connectedClient().getServerCapabilities()?.resources?.subscribe)
      throw new GatewayError(
        'unsupported_operation',
        `MCP client ${this.config.name} offers no resource subscriptions`,
      )
    let listeners = this.watchers.get(uri)
    if (!listeners) {
      await this.request(uri, opts, (client, timeout) => client.subscribeResource({ uri }, { timeout }))
      listeners = this.watchers.get(uri) ?? new Set()
      this.watchers.set(uri, listeners)
    }
    listeners.add(listener)
    return () => {
      const current = this.watchers.get(uri)
      if (!current?.delete(listener) || current.size > 0) return
      this.watchers.delete(uri)
      this.client?.unsubscribeResource({ uri }).catch(() => undefined)
    }
  }

  /**
   * One request to the server with the call deadline. A streamable HTTP session the server no
   * longer knows (404) is re-initialized once and the request retried.
   */
  private async request<T>(
    what: string,
    opts: McpRequestOptions,
    send: (client: Client, timeout: number) => Promise<T>,
  ): Promise<T> {
    const timeout =
      opts.timeoutMs ??
      (this.config.tool_execution_timeout > 0
        ? this.config.tool_execution_timeout * 1000
        : this.timings.callTimeoutMs)
    try {
      return await send(this.connectedClient(), timeout)
    } catch (err) {
      if (!isSessionExpired(err) || opts.signal?.aborted) throw toGatewayError(err, this.config.name, what)
      this.events.onLog?.('info', `MCP client ${this.config.name}: session expired, initializing again`)
      await this.reconnect()
      try {
        return await send(this.connectedClient(), timeout)
      } catch (retryErr) {
        throw toGatewayError(retryErr, this.config.name, what)
      }
    }
  }

  private connectedClient(): Client {
    const client = this.client
    if (!client || this.state !== 'connected') {
      throw new GatewayError(
        'upstream_connection_error',
        `MCP client ${this.config.name} is not connected (${this.state}${this.lastError ? `: ${this.lastError}` : ''})`,
      )
    }
    return client
  }
}

/**
 * Whether the server no longer knows our session: 404 per the spec; many servers (the SDK's own
 * examples among them) answer 400 "No valid session ID" instead.
 */
function isSessionExpired(err: unknown): boolean {
  if (!(err instanceof StreamableHTTPError)) return false
  return err.code === 404 || (err.code === 400 && /session/i.test(err.message))
}

/** The HTTP status of a call the server refused as unauthorized (401) or forbidden (403). */
export function refusedStatus(err: unknown): 401 | 403 | undefined {
  const cause = err instanceof GatewayError ? err.cause : err
  if (!(cause instanceof StreamableHTTPError)) return undefined
  return cause.code === 401 || cause.code === 403 ? cause.code : undefined
}

function toGatewayError(err: unknown, client: string, tool: string): GatewayError {
  if (err instanceof GatewayError) return err
  if (err instanceof McpError) {
    if (err.code === ErrorCode.RequestTimeout)
      return new GatewayError('upstream_timeout', `MCP tool ${client}/${tool} timed out`, { cause: err })
    return new GatewayError('upstream_error', `MCP client ${client}: ${err.message}`, { cause: err })
  }
  if (err instanceof Error && err.name === 'AbortError')
    return new GatewayError('request_cancelled', `MCP tool ${client}/${tool} call was cancelled`, {
      cause: err,
    })
  return new GatewayError('upstream_connection_error', `MCP client ${client}: ${errorText(err)}`, {
    cause: err,
  })
}

function withHeaders(headers: Record<string, string>): typeof fetch {
  return (input, init) => {
    const merged = new Headers(init?.headers)
    for (const [k, v] of Object.entries(headers)) merged.set(k, v)
    return fetch(input, { ...init, headers: merged })
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
