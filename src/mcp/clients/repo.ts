import type { Kysely } from 'kysely'
import { GatewayError } from '../../core/errors.js'
import type { ConfigStore, ConfigStoreTables, McpClientsTables } from '../../store/index.js'
import { mapClientSecrets, type McpClientConfig } from './config.js'

/** Where MCP client configs persist: the config store's `mcp_clients` table, secrets sealed. */
export interface McpClientRepo {
  list(): Promise<McpClientConfig[]>
  /** Inserts or replaces the client with this id. */
  put(cfg: McpClientConfig): Promise<void>
  delete(id: string): Promise<void>
}

export class SqlMcpClientRepo implements McpClientRepo {
  private readonly db: Kysely<ConfigStoreTables & McpClientsTables>

  constructor(private readonly store: ConfigStore) {
    this.db = store.db.withTables<McpClientsTables>()
  }

  async list(): Promise<McpClientConfig[]> {
    const rows = await this.db
      .selectFrom('mcp_clients')
      .selectAll()
      .orderBy('created_at')
      .orderBy('name')
      .execute()
    return rows.map((row) =>
      mapClientSecrets(JSON.parse(row.config) as McpClientConfig, (v) => this.store.secrets.open(v)),
    )
  }

  async put(cfg: McpClientConfig): Promise<void> {
    const now = new Date().toISOString()
    const config = JSON.stringify(mapClientSecrets(cfg, (v) => this.store.secrets.seal(v)))
    try {
      await this.db
        .insertInto('mcp_clients')
        .values({ id: cfg.client_id, name: cfg.name, config, created_at: now, updated_at: now })
        .onConflict((oc) => oc.column('id').doUpdateSet({ name: cfg.name, config, updated_at: now }))
        .execute()
    } catch (err) {
      throw new GatewayError('store_unavailable', 'the config store did not accept the MCP client', {
        cause: err,
      })
    }
  }

  async delete(id: string): Promise<void> {
    try {
      await this.db.deleteFrom('mcp_clients').where('id', '=', id).execute()
    } catch (err) {
      throw new GatewayError('store_unavailable', 'the config store did not accept the change', {
        cause: err,
      })
    }
  }
}

/** A repo that keeps nothing, for a manager without a store (tests, embedding). */
export class MemoryMcpClientRepo implements McpClientRepo {
  private readonly rows = new Map<string, McpClientConfig>()
  async list(): Promise<McpClientConfig[]> {
    return [...this.rows.values()]
  }
  async put(cfg: McpClientConfig): Promise<void> {
    this.rows.set(cfg.client_id, cfg)
  }
  async delete(id: string): Promise<void> {
    this.rows.delete(id)
  }
}
