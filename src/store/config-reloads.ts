import { sql, type Kysely } from 'kysely'
import { CONFIG_VERSION_TABLE } from './migrations/009_config_version.js'

/** Reads the config store's change counter (bumped in the transaction of every config change). */
export async function readConfigVersion<DB>(db: Kysely<DB>): Promise<string> {
  const { rows } = await sql<{
    version: string | number
  }>`select version from ${sql.table(CONFIG_VERSION_TABLE)} where id = 1`.execute(db)
  return String(rows[0]?.version ?? 0)
}

export interface ConfigReloadsOptions {
  /** The store's change counter; see readConfigVersion. */
  readVersion: () => Promise<string>
  /** How often the counter is read; 0 never (a store no other node writes to). */
  intervalMs: number
  /** The first wait before a failed reload is tried again, doubled up to maxRetryMs. */
  firstRetryMs?: number
  maxRetryMs?: number
  onError: (err: Error, what: string) => void
}

/**
 * Keeps a node's in-memory copies of the config store (providers, governance, pricing ...) current
 * when change events are not enough: a reload that fails (the store unreachable) is tried again
 * with backoff until it succeeds, and a timer reads the store's change counter and reloads
 * everything when it moved, for changes whose event never arrived. Nothing here is on the request
 * path.
 */
export class ConfigReloads {
  private readonly reloads = new Map<string, () => Promise<void>>()
  private readonly pending = new Set<string>()
  private running: Promise<void> | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private retryMs: number
  private pollTimer: NodeJS.Timeout | undefined
  private polling = false
  /** The counter at which every copy was last reloaded; undefined until the first check. */
  private loadedVersion: string | undefined
  private closed = false

  constructor(private readonly opts: ConfigReloadsOptions) {
    this.retryMs = opts.firstRetryMs ?? 100
  }

  /** Names a copy and how to reload it whole. */
  add(name: string, reload: () => Promise<void>): void {
    this.reloads.set(name, reload)
  }

  /** Reloads one copy now (its change event arrived), and again until it succeeds. */
  reload(name: string): void {
    this.pending.add(name)
    void this.flush()
  }

  /** Starts the periodic check of the change counter. */
  start(): void {
    if (this.opts.intervalMs <= 0 || this.pollTimer) return
    this.pollTimer = setInterval(() => void this.check(), this.opts.intervalMs)
    this.pollTimer.unref()
  }

  /** Reads the counter; when it moved since the last full reload, reloads everything. */
  async check(): Promise<void> {
    if (this.polling || this.closed) return
    this.polling = true
    try {
      const version = await this.opts.readVersion()
      if (version === this.loadedVersion) return
      for (const name of this.reloads.keys()) this.pending.add(name)
      if (await this.flush()) this.loadedVersion = version
    } catch (err) {
      this.opts.onError(err as Error, 'config version check')
    } finally {
      this.polling = false
    }
  }

  close(): void {
    this.closed = true
    clearInterval(this.pollTimer)
    clearTimeout(this.retryTimer)
  }

  /** Runs the pending reloads (one run at a time); true when none is left failing. */
  private async flush(): Promise<boolean> {
    while (this.running) await this.running
    if (this.closed) return false
    const names = [...this.pending]
    this.pending.clear()
    let failed = false
    this.running = (async () => {
      for (const name of names) {
        try {
          await this.reloads.get(name)?.()
        } catch (err) {
          failed = true
          this.pending.add(name)
          this.opts.onError(err as Error, `${name} reload`)
        }
      }
    })()
    try {
      await this.running
    } finally {
      this.running = undefined
    }
    if (failed) this.retryLater()
    else if (this.pending.size === 0) this.retryMs = this.opts.firstRetryMs ?? 100
    return !failed
  }

  private retryLater(): void {
    if (this.retryTimer || this.closed) return
    const wait = this.retryMs
    this.retryMs = Math.min(wait * 2, this.opts.maxRetryMs ?? 1000)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      void this.flush()
    }, wait)
    this.retryTimer.unref()
  }
}
