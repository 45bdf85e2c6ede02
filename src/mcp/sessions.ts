import { randomUUID } from 'node:crypto'
import type { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'

/** One stateful /mcp session: its transport (with the GET stream) and server, for one caller. */
export interface McpSession {
  id: string
  /** Who opened it, on which endpoint (`<endpoint>\n<virtual key id or "anonymous">`). */
  owner: string
  transport: StreamableHTTPServerTransport
  server: Server
  lastSeen: number
  /** GET streams open now: a session with one is never idle. */
  streams: number
  /** Stops watching the lists for changes. */
  stop: () => void
}

export interface McpSessionOptions {
  /** A session unused for this long is closed; default 30 minutes. */
  idleMs?: number
  /** The most sessions kept on one node; the least recently used goes first; default 1000. */
  max?: number
}

/**
 * The stateful /mcp sessions of this node. A session is only what a client needs to receive
 * notifications on its GET stream (`notifications/tools/list_changed`, …): every POST is
 * authenticated again, and a POST naming a session this node does not know is served statelessly,
 * so that several nodes behind a load balancer keep working. A session unused for `idleMs` with no
 * GET stream open is closed.
 */
export class McpSessions {
  private readonly sessions = new Map<string, McpSession>()
  private readonly idleMs: number
  private readonly max: number
  private readonly sweeper: NodeJS.Timeout

  constructor(opts: McpSessionOptions = {}) {
    this.idleMs = opts.idleMs ?? 30 * 60_000
    this.max = opts.max ?? 1000
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.idleMs, 60_000))
    this.sweeper.unref()
  }

  /** The session with this id, if it is this owner's; touching it keeps it alive. */
  find(id: string | undefined, owner: string): McpSession | undefined {
    const session = id === undefined ? undefined : this.sessions.get(id)
    if (!session || session.owner !== owner) return undefined
    session.lastSeen = Date.now()
    return session
  }

  /**
   * A transport that becomes a session once the client's `initialize` succeeded. `open` connects
   * the server and returns how to stop watching for changes.
   */
  async open(owner: string, server: Server, watch: () => () => void): Promise<StreamableHTTPServerTransport> {
    let stop: () => void = () => undefined
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        if (this.sessions.size >= this.max) this.evictOldest()
        stop = watch()
        this.sessions.set(id, {
          id,
          owner,
          transport,
          server,
          lastSeen: Date.now(),
          streams: 0,
          stop: () => stop(),
        })
      },
      onsessionclosed: (id) => {
        this.drop(id)
      },
    })
    transport.onclose = () => {
      if (transport.sessionId) this.drop(transport.sessionId)
    }
    await server.connect(transport)
    return transport
  }

  /** Counts a GET stream of the session until its response closes. */
  streaming(session: McpSession, response: { once(event: 'close', listener: () => void): unknown }): void {
    session.streams++
    response.once('close', () => {
      session.streams--
      session.lastSeen = Date.now()
    })
  }

  private drop(id: string): void {
    const session = this.sessions.get(id)
    if (!session) return
    this.sessions.delete(id)
    session.stop()
    session.transport.close().catch(() => undefined)
    session.server.close().catch(() => undefined)
  }

  private evictOldest(): void {
    let oldest: McpSession | undefined
    for (const s of this.sessions.values()) if (!oldest || s.lastSeen < oldest.lastSeen) oldest = s
    if (oldest) this.drop(oldest.id)
  }

  private sweep(): void {
    const now = Date.now()
    for (const s of [...this.sessions.values()])
      if (s.streams === 0 && now - s.lastSeen > this.idleMs) this.drop(s.id)
  }

  get size(): number {
    return this.sessions.size
  }

  close(): void {
    clearInterval(this.sweeper)
    for (const id of [...this.sessions.keys()]) this.drop(id)
  }
}
