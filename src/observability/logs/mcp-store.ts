import { sql, type Compilable, type ExpressionBuilder, type Kysely } from 'kysely'
import type { StoreKind } from '../../store/index.js'
import type { Page } from './filters.js'
import { MCP_LIST_FILTERS, type McpLogFilters, type McpToolLogRow } from './mcp-record.js'
import type { LogsDb } from './store.js'

const COLUMNS = `
  id varchar(255) not null primary key,
  llm_request_id varchar(255),
  ts bigint not null,
  tool_name varchar(255) not null,
  server_label varchar(255) not null,
  tool_call_id varchar(255),
  virtual_key_id varchar(255),
  virtual_key_name varchar(255),
  status varchar(16) not null,
  latency double precision not null default 0,
  arguments text,
  result text,
  error text`

const INDEXES = ['ts', 'tool_name', 'server_label', 'status', 'virtual_key_id', 'llm_request_id']

/** Bifrost's `MCPToolLogStats`. */
export interface McpToolLogStats {
  total_executions: number
  success_rate: number
  average_latency: number
  total_cost: number
}

/**
 * MCP tool executions, in the request-log database beside the `logs` table (same SQLite file or
 * PostgreSQL schema, same retention). Tool calls are far fewer than requests: no partitions.
 */
export class McpToolLogStore {
  constructor(
    private readonly db: Kysely<LogsDb>,
    readonly kind: StoreKind,
    /** Runs write queries in one transaction, where the log store runs its own (a SQLite file: its writer thread). */
    private readonly write: (queries: Compilable[]) => Promise<number>,
  ) {}

  async createSchema(): Promise<void> {
    await sql.raw(`create table if not exists mcp_tool_logs (${COLUMNS})`).execute(this.db)
    for (const col of INDEXES) {
      await sql
        .raw(`create index if not exists mcp_tool_logs_${col}_idx on mcp_tool_logs (${col})`)
        .execute(this.db)
    }
  }

  async insert(rows: McpToolLogRow[]): Promise<void> {
    if (rows.length === 0) return
    await this.db
      .insertInto('mcp_tool_logs')
      .values(rows)
      .onConflict((oc) => oc.column('id').doNothing())
      .execute()
  }

  private where(f: McpLogFilters) {
    return (eb: ExpressionBuilder<LogsDb, 'mcp_tool_logs'>) => {
      const parts = []
      for (const [name, column] of Object.entries(MCP_LIST_FILTERS)) {
        const list = f[name as keyof typeof MCP_LIST_FILTERS]
        if (list && list.length > 0) parts.push(eb(column, 'in', list))
      }
      if (f.start_time !== undefined) parts.push(eb('ts', '>=', f.start_time))
      if (f.end_time !== undefined) parts.push(eb('ts', '<=', f.end_time))
      if (f.min_latency !== undefined) parts.push(eb('latency', '>=', f.min_latency))
      if (f.max_latency !== undefined) parts.push(eb('latency', '<=', f.max_latency))
      if (f.content_search !== undefined) {
        const pattern = `%${f.content_search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
        parts.push(
          sql<boolean>`lower(coalesce(arguments, '') || ' ' || coalesce(result, '') || ' ' || coalesce(error, '')) like ${pattern} escape '\\'`,
        )
      }
      return eb.and(parts)
    }
  }

  async search(f: McpLogFilters, page: Page): Promise<{ rows: McpToolLogRow[]; total: number }> {
    // Tool calls have no tokens and no price: those sorts fall back to time.
    const column = page.sort_by === 'latency' ? 'latency' : 'ts'
    const [rows, count] = await Promise.all([
      this.db
        .selectFrom('mcp_tool_logs')
        .selectAll()
        .where(this.where(f))
        .orderBy(column, page.order)
        .orderBy('id', page.order)
        .limit(page.limit)
        .offset(page.offset)
        .execute(),
      this.db
        .selectFrom('mcp_tool_logs')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where(this.where(f))
        .executeTakeFirst(),
    ])
    return { rows: rows.map(normalise), total: Number(count?.n ?? 0) }
  }

  async stats(f: McpLogFilters): Promise<McpToolLogStats> {
    const row = await this.db
      .selectFrom('mcp_tool_logs')
      .select((eb) => [
        eb.fn.countAll<string | number>().as('n'),
        eb.fn.sum<string | number | null>(sql`case when status = 'success' then 1 else 0 end`).as('ok'),
        eb.fn.avg<string | number | null>('latency').as('latency'),
      ])
      .where(this.where(f))
      .executeTakeFirst()
    const n = Number(row?.n ?? 0)
    return {
      total_executions: n,
      success_rate: n === 0 ? 0 : (Number(row?.ok ?? 0) / n) * 100,
      average_latency: Number(row?.latency ?? 0),
      total_cost: 0,
    }
  }

  async get(id: string): Promise<McpToolLogRow | undefined> {
    const row = await this.db.selectFrom('mcp_tool_logs').selectAll().where('id', '=', id).executeTakeFirst()
    return row && normalise(row)
  }

  async hasAny(): Promise<boolean> {
    const row = await this.db.selectFrom('mcp_tool_logs').select('id').limit(1).executeTakeFirst()
    return row !== undefined
  }

  async delete(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0
    return this.write([this.db.deleteFrom('mcp_tool_logs').where('id', 'in', ids)])
  }

  async distinct(column: 'tool_name' | 'server_label'): Promise<string[]> {
    const rows = await this.db.selectFrom('mcp_tool_logs').select(column).distinct().orderBy(column).execute()
    return rows.map((r) => r[column]).filter((v) => v !== '')
  }

  /** Removes entries older than `cutoff`, and the arguments and results of those older than `contentCutoff`. */
  async enforceRetention(cutoff: number, contentCutoff: number | undefined): Promise<void> {
    const writes: Compilable[] = [this.db.deleteFrom('mcp_tool_logs').where('ts', '<', cutoff)]
    if (contentCutoff !== undefined)
      writes.push(
        this.db
          .updateTable('mcp_tool_logs')
          .set({ arguments: null, result: null })
          .where('ts', '<', contentCutoff)
          .where('arguments', 'is not', null),
      )
    await this.write(writes)
  }
}

/** PostgreSQL returns bigint columns as strings. */
function normalise(row: McpToolLogRow): McpToolLogRow {
  row.ts = Number(row.ts)
  return row
}
