import SqliteDatabase from 'better-sqlite3'
import { sql, type Compilable, type ExpressionBuilder, type Kysely } from 'kysely'
import { connectDatabase, DEFAULT_STORE_SPEC, type StoreKind, type StoreSpec } from '../../store/index.js'
import { DIMENSIONS } from './aggregates.js'
import { addDictionarySource, PACKED_COLUMNS, unpackText } from './content-codec.js'
import { LIST_FILTERS, type LogFilters, type Page } from './filters.js'
import type { McpToolLogRow } from './mcp-record.js'
import { McpToolLogStore } from './mcp-store.js'
import type { LogRow } from './record.js'
import {
  ATTEMPTS_ONLY_FUNCTION,
  BUNDLED_COLUMNS,
  bundleRow,
  keepAttemptsOnly,
  packBundle,
  SQLITE_ONLY_COLUMNS,
  unpackRow,
  type PackedColumns,
  type RowPlaces,
} from './row-packing.js'
import { SqliteLogWriter } from './sqlite-writer.js'

export interface LogsDb {
  logs: LogRow & PackedColumns
  mcp_tool_logs: McpToolLogRow
}

const DAY_MS = 86_400_000

const COLUMNS = `
  id varchar(255) not null,
  ts bigint not null,
  object varchar(64) not null,
  route varchar(255),
  provider varchar(255) not null,
  model varchar(255) not null,
  status varchar(16) not null,
  stream integer not null default 0,
  fallback_index integer not null default 0,
  number_of_retries integer not null default 0,
  selected_key_id varchar(255),
  selected_key_name varchar(255),
  virtual_key_id varchar(255),
  virtual_key_name varchar(255),
  team_id varchar(255),
  team_name varchar(255),
  customer_id varchar(255),
  customer_name varchar(255),
  latency double precision not null default 0,
  ttft double precision,
  prompt_tokens integer not null default 0,
  completion_tokens integer not null default 0,
  total_tokens integer not null default 0,
  cached_tokens integer not null default 0,
  reasoning_tokens integer not null default 0,
  cost double precision,
  cost_estimated integer not null default 0,
  error text,
  attempts text,
  input text,
  output text,
  content_summary text,
  client_request_id varchar(255),
  content_truncated integer,
  cache_hit_type varchar(16),
  cache_debug text,
  cache_saved double precision,
  routing_rule_id varchar(255),
  routing_info text,
  routing_engine_used varchar(64)`

/** The column names, in table order: what a prepared insert binds. */
const COLUMN_NAMES = COLUMNS.split(',').map((c) => c.trim().split(/\s+/)[0]) as (keyof LogRow)[]

/**
 * Every index is paid for by every insert, so there are few: time, model, the governance ids
 * (only where set), and errors. Provider and status are left to the time index: few values, so
 * an index on them would pick out little; errors, the status searched for, have their own.
 */
const INDEXES: [name: string, definition: string][] = [
  ['ts', '(ts)'],
  ['model', '(model)'],
  ['virtual_key_id_set', '(virtual_key_id) where virtual_key_id is not null'],
  ['team_id_set', '(team_id) where team_id is not null'],
  ['customer_id_set', '(customer_id) where customer_id is not null'],
  ['errors', "(ts) where status = 'error'"],
  ['routing_rule_id_set', '(routing_rule_id) where routing_rule_id is not null'],
]
/** Indexes of earlier versions, which cost every insert more than they helped a search. */
const DROPPED_INDEXES = ['provider', 'status', 'virtual_key_id', 'team_id', 'customer_id']

/** Bigger pages than SQLite's 4 KiB: fewer page splits and WAL frames per row of a log table. */
const SQLITE_PAGE_SIZE = 16_384

/** Columns the aggregates read: everything but the content. */
export const AGGREGATE_COLUMNS = [
  'ts',
  'status',
  // The dimensions the histograms break down by.
  ...DIMENSIONS,
  'latency',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'cost',
] as const
export type AggregateRow = Pick<LogRow, (typeof AGGREGATE_COLUMNS)[number]>

/** What a log entry's cost is recomputed from (POST /api/logs/recalculate-cost). */
export const COST_COLUMNS = [
  'id',
  'ts',
  'provider',
  'model',
  'virtual_key_id',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'cached_tokens',
  'reasoning_tokens',
  'cost',
] as const satisfies readonly (keyof LogRow)[]
export type CostRow = Pick<LogRow, (typeof COST_COLUMNS)[number]>
export type CostCursor = Pick<LogRow, 'ts' | 'id'>

/** Most rows an aggregate reads; beyond, the time range must be narrowed. */
const AGGREGATE_ROW_CAP = 500_000

/**
 * A row answered with this HTTP status: 200 is a success; an error's body is stored as Bifrost's,
 * whose `status_code` follows `is_bifrost_error`, so a prefix match finds it without parsing JSON.
 */
function statusCodeIs(eb: ExpressionBuilder<LogsDb, 'logs'>, code: number) {
  if (code === 200) return eb('status', '=', 'success')
  return eb.and([
    eb('status', '=', 'error'),
    eb.or(
      ['true', 'false'].map((b) => eb('error', 'like', `{"is_bifrost_error":${b},"status_code":${code},%`)),
    ),
  ])
}

function dayName(dayStart: number): string {
  return `logs_p${new Date(dayStart).toISOString().slice(0, 10).replace(/-/g, '')}`
}

/**
 * The request-log database: SQLite (`<appDir>/logs.db`) or PostgreSQL, where the table is
 * partitioned by day so that retention drops whole partitions instead of deleting rows.
 */
export class LogStore {
  private partitions = new Set<number>()
  /** MCP tool executions, in the same database. */
  readonly mcp: McpToolLogStore

  /** SQLite: one prepared row insert, run in a transaction per batch (no query built per batch). */
  private insertBatch: ((rows: LogRow[]) => void) | undefined
  /** SQLite in a file: the thread that runs those inserts off the event loop. */
  private writer: SqliteLogWriter | undefined
  private forgetDictionaries: (() => void) | undefined

  private constructor(
    readonly db: Kysely<LogsDb>,
    readonly kind: StoreKind,
    readonly location: string,
    private readonly sqlite?: SqliteDatabase.Database,
  ) {
    this.mcp = new McpToolLogStore(db, kind, (queries) => this.write(queries))
  }

  static async open(spec: StoreSpec | undefined, appDir: string, onPoolError?: (err: Error) => void) {
    const conn = await connectDatabase<LogsDb>(spec ?? DEFAULT_STORE_SPEC, {
      appDir,
      defaultFile: 'logs.db',
      onPoolError,
      pageSize: SQLITE_PAGE_SIZE,
      // Searches and histograms over many days of logs take longer than config reads.
      defaultQueryTimeoutMs: 30_000,
    })
    const store = new LogStore(conn.db, conn.kind, conn.location, conn.sqlite)
    await store.createSchema()
    store.prepareInsert()
    return store
  }

  private async createSchema(): Promise<void> {
    if (this.kind === 'postgres') {
      await sql
        .raw(`create table if not exists logs (${COLUMNS}, primary key (id, ts)) partition by range (ts)`)
        .execute(this.db)
      const now = Date.now()
      for (let d = -1; d <= 2; d++) await this.ensurePartition(now + d * DAY_MS)
    } else {
      await sql.raw(`create table if not exists logs (${COLUMNS}, primary key (id))`).execute(this.db)
    }
    await this.addColumnsOfLaterVersions()
    for (const col of DROPPED_INDEXES) await sql.raw(`drop index if exists logs_${col}_idx`).execute(this.db)
    for (const [name, definition] of INDEXES) {
      await sql.raw(`create index if not exists logs_${name}_idx on logs ${definition}`).execute(this.db)
    }
    await this.mcp.createSchema()
  }

  /** Columns added after the table was first created, added to a table an older version made. */
  private async addColumnsOfLaterVersions(): Promise<void> {
    const added = [
      ['selected_key_name', 'varchar(255)'],
      ['client_request_id', 'varchar(255)'],
      ['content_truncated', 'integer'],
      ['cache_hit_type', 'varchar(16)'],
      ['cache_debug', 'text'],
      ['cache_saved', 'double precision'],
      ['routing_rule_id', 'varchar(255)'],
      ['routing_info', 'text'],
      ['routing_engine_used', 'varchar(64)'],
    ]
    if (this.kind === 'postgres') {
      for (const [name, type] of added)
        await sql.raw(`alter table logs add column if not exists ${name} ${type}`).execute(this.db)
      return
    }
    const { rows } = await sql<{ name: string }>`select name from pragma_table_info('logs')`.execute(this.db)
    const have = new Set(rows.map((r) => r.name))
    for (const [name, type] of [...added, ...SQLITE_ONLY_COLUMNS])
      if (!have.has(name)) await sql.raw(`alter table logs add column ${name} ${type}`).execute(this.db)
  }

  /** PostgreSQL: the day partition holding `ts`, created when missing. */
  private async ensurePartition(ts: number): Promise<void> {
    const start = Math.floor(ts / DAY_MS) * DAY_MS
    if (this.partitions.has(start)) return
    await sql
      .raw(
        `create table if not exists ${dayName(start)} partition of logs for values from (${start}) to (${start + DAY_MS})`,
      )
      .execute(this.db)
    this.partitions.add(start)
  }

  private prepareInsert(): void {
    const sqlite = this.sqlite
    if (!sqlite) return
    const insertSql = `insert into logs (${SQLITE_COLUMN_NAMES.join(', ')}) values (${SQLITE_COLUMN_NAMES.map(() => '?').join(', ')}) on conflict (id) do nothing`
    const statement = sqlite.prepare(insertSql)
    this.insertBatch = sqlite.transaction((rows: LogRow[]) => {
      for (const row of rows) statement.run(packBundle(bundleRow(valuesOf(row), PLACES), PLACES))
    })
    // Content search reads packed texts through this (see content-codec.ts).
    sqlite.function('heimdall_text', { deterministic: true }, (value: unknown) => unpackText(value))
    sqlite.function(ATTEMPTS_ONLY_FUNCTION, { deterministic: true }, keepAttemptsOnly)
    // heimdall_text runs inside a query, when its connection is busy and can run no other: a
    // dictionary not seen yet is read on a connection of its own (a file's; an in-memory database
    // is written on this connection, with the built-in dictionary only).
    let reader: SqliteDatabase.Database | undefined
    const dictionary = (id: number) => {
      try {
        reader ??= sqlite.memory ? sqlite : new SqliteDatabase(sqlite.name, { readonly: true })
        const found = reader.prepare('select dictionary from log_dictionaries where id = ?').get(id)
        return (found as { dictionary: Buffer } | undefined)?.dictionary
      } catch {
        return undefined // no such table: nothing was packed with a trained dictionary
      }
    }
    const forget = addDictionarySource(dictionary)
    this.forgetDictionaries = () => {
      forget()
      if (reader !== sqlite) reader?.close()
    }
    // A file can be opened by a second thread; an in-memory database cannot, and is written here.
    if (!sqlite.memory) this.writer = new SqliteLogWriter({ path: sqlite.name, insertSql, places: PLACES })
  }

  async insert(rows: LogRow[]): Promise<void> {
    if (rows.length === 0) return
    if (this.writer?.running) return this.writer.write(rows.map(valuesOf))
    // Kysely would build and SQLite parse a statement of rows x columns parameters for every batch.
    if (this.insertBatch) return this.insertBatch(rows)
    if (this.kind === 'postgres') for (const r of rows) await this.ensurePartition(r.ts)
    await this.db
      .insertInto('logs')
      .values(rows)
      .onConflict((oc) => (this.kind === 'postgres' ? oc.columns(['id', 'ts']) : oc.column('id')).doNothing())
      .execute()
  }

  /**
   * Runs write queries in one transaction and resolves with the rows they changed: on a SQLite
   * file on the writer thread (after the batches before them, and off the event loop), else here.
   */
  private async write(queries: Compilable[]): Promise<number> {
    if (this.writer?.running)
      return this.writer.run(
        queries.map((q) => q.compile()).map((c) => ({ sql: c.sql, parameters: c.parameters })),
      )
    return this.db.transaction().execute(async (tx) => {
      let changed = 0
      for (const q of queries) changed += Number((await tx.executeQuery(q.compile())).numAffectedRows ?? 0)
      return changed
    })
  }

  private where(f: LogFilters) {
    return (eb: ExpressionBuilder<LogsDb, 'logs'>) => {
      const parts = []
      if (f.match_none) parts.push(sql<boolean>`1 = 0`)
      for (const [name, column] of Object.entries(LIST_FILTERS)) {
        const list = f[name as keyof typeof LIST_FILTERS]
        if (!list || list.length === 0) continue
        // Written out, so that the database sees it may use the index of errors.
        if (column === 'status' && list.length === 1 && list[0] === 'error')
          parts.push(sql<boolean>`status = 'error'`)
        else parts.push(eb(column, 'in', list))
      }
      if (f.status_codes) parts.push(eb.or(f.status_codes.map((code) => statusCodeIs(eb, code))))
      if (f.routing_engine_used) parts.push(eb.or(f.routing_engine_used.map((e) => routingEngineIs(e))))
      if (f.request_id !== undefined) parts.push(eb('id', '=', f.request_id))
      if (f.start_time !== undefined) parts.push(eb('ts', '>=', f.start_time))
      if (f.end_time !== undefined) parts.push(eb('ts', '<=', f.end_time))
      if (f.min_latency !== undefined) parts.push(eb('latency', '>=', f.min_latency))
      if (f.max_latency !== undefined) parts.push(eb('latency', '<=', f.max_latency))
      if (f.min_tokens !== undefined) parts.push(eb('total_tokens', '>=', f.min_tokens))
      if (f.max_tokens !== undefined) parts.push(eb('total_tokens', '<=', f.max_tokens))
      if (f.min_cost !== undefined) parts.push(eb(eb.fn.coalesce('cost', sql.lit(0)), '>=', f.min_cost))
      if (f.max_cost !== undefined) parts.push(eb(eb.fn.coalesce('cost', sql.lit(0)), '<=', f.max_cost))
      if (f.missing_cost_only) parts.push(eb.or([eb('cost', 'is', null), eb('cost', '=', 0)]))
      if (f.cost_estimated !== undefined) parts.push(eb('cost_estimated', '=', f.cost_estimated ? 1 : 0))
      if (f.content_search !== undefined) {
        const pattern = `%${f.content_search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
        // The summary holds the prompts (and errors); a provider's answer is stored as it came, in
        // output, and on SQLite its words plain in answer_text. SQLite's like ignores ASCII case, as
        // its lower() does; only rows of older versions, their texts packed, are inflated.
        if (this.kind === 'sqlite')
          parts.push(
            sql<boolean>`(case when typeof(content_summary) = 'blob' then heimdall_text(content_summary) else content_summary end like ${pattern} escape '\\'
              or case when typeof(output) = 'blob' then heimdall_text(output) else coalesce(answer_text, output) end like ${pattern} escape '\\')`,
          )
        else
          parts.push(
            sql<boolean>`(lower(content_summary) like ${pattern} escape '\\' or lower(output) like ${pattern} escape '\\')`,
          )
      }
      return eb.and(parts)
    }
  }

  async search(f: LogFilters, page: Page): Promise<{ rows: LogRow[]; total: number }> {
    const column = { timestamp: 'ts', latency: 'latency', tokens: 'total_tokens', cost: 'cost' } as const
    const [rows, count] = await Promise.all([
      this.db
        .selectFrom('logs')
        .selectAll()
        .where(this.where(f))
        .orderBy(column[page.sort_by], page.order)
        .orderBy('id', page.order)
        .limit(page.limit)
        .offset(page.offset)
        .execute(),
      this.db
        .selectFrom('logs')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where(this.where(f))
        .executeTakeFirst(),
    ])
    return { rows: rows.map(normalise), total: Number(count?.n ?? 0) }
  }

  /** Totals over the matching entries, computed by the database (Bifrost's `SearchStats`). */
  async totals(f: LogFilters): Promise<{
    total_requests: number
    success_rate: number
    average_latency: number
    total_tokens: number
    total_cost: number
    cache_hits: number
    cache_hit_rate: number
    cache_saved_cost: number
  }> {
    const row = await this.db
      .selectFrom('logs')
      .select((eb) => [
        eb.fn.countAll<string | number>().as('n'),
        eb.fn.sum<string | number | null>(sql`case when status = 'success' then 1 else 0 end`).as('ok'),
        eb.fn.avg<string | number | null>('latency').as('latency'),
        eb.fn.sum<string | number | null>('total_tokens').as('tokens'),
        eb.fn.sum<string | number | null>('cost').as('cost'),
        eb.fn.count<string | number>('cache_hit_type').as('hits'),
        eb.fn.sum<string | number | null>('cache_saved').as('saved'),
      ])
      .where(this.where(f))
      .executeTakeFirst()
    const n = Number(row?.n ?? 0)
    return {
      total_requests: n,
      success_rate: n === 0 ? 0 : (Number(row?.ok ?? 0) / n) * 100,
      average_latency: Number(row?.latency ?? 0),
      total_tokens: Number(row?.tokens ?? 0),
      total_cost: Number(row?.cost ?? 0),
      cache_hits: Number(row?.hits ?? 0),
      cache_hit_rate: n === 0 ? 0 : (Number(row?.hits ?? 0) / n) * 100,
      cache_saved_cost: Number(row?.saved ?? 0),
    }
  }

  /** Number of matching entries per value of a column. */
  async countBy(f: LogFilters, column: 'provider' | 'model'): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('logs')
      .select((eb) => [column, eb.fn.countAll<string | number>().as('n')])
      .where(this.where(f))
      .groupBy(column)
      .execute()
    return Object.fromEntries(rows.map((r) => [r[column], Number(r.n)]))
  }

  async get(id: string): Promise<LogRow | undefined> {
    const row = await this.db.selectFrom('logs').selectAll().where('id', '=', id).executeTakeFirst()
    return row && normalise(row)
  }

  async hasAny(): Promise<boolean> {
    return (await this.db.selectFrom('logs').select('id').limit(1).executeTakeFirst()) !== undefined
  }

  async delete(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0
    return this.write([this.db.deleteFrom('logs').where('id', 'in', ids)])
  }

  /** The rows an aggregate is computed from, without their content. */
  async aggregateRows(f: LogFilters): Promise<AggregateRow[]> {
    const rows = await this.db
      .selectFrom('logs')
      .select([...AGGREGATE_COLUMNS])
      .where(this.where(f))
      .orderBy('ts', 'asc')
      .limit(AGGREGATE_ROW_CAP)
      .execute()
    return rows.map((r) => normalise(r as LogRow))
  }

  async distinct(column: 'model' | 'provider' | 'selected_key_id' | 'object' | 'route'): Promise<string[]> {
    const rows = await this.db.selectFrom('logs').select(column).distinct().orderBy(column).execute()
    return rows.map((r) => r[column]).filter((v): v is string => v !== null && v !== '')
  }

  async distinctPairs(
    id: 'virtual_key_id' | 'team_id' | 'customer_id',
    name: 'virtual_key_name' | 'team_name' | 'customer_name',
  ): Promise<{ id: string; name: string }[]> {
    const rows = await this.db
      .selectFrom('logs')
      .select([id, name])
      .distinct()
      .where(id, 'is not', null)
      .orderBy(id)
      .execute()
    const seen = new Map<string, string>()
    for (const r of rows) if (!seen.has(r[id] as string)) seen.set(r[id] as string, r[name] ?? '')
    return [...seen].map(([i, n]) => ({ id: i, name: n }))
  }

  /** Matching entries after `after` in (ts, id) order, with what their cost is computed from. */
  async costPage(f: LogFilters, after: CostCursor | undefined, limit: number): Promise<CostRow[]> {
    let q = this.db
      .selectFrom('logs')
      .select([...COST_COLUMNS])
      .where(this.where(f))
    if (after)
      q = q.where((eb) =>
        eb.or([eb('ts', '>', after.ts), eb.and([eb('ts', '=', after.ts), eb('id', '>', after.id)])]),
      )
    const rows = await q.orderBy('ts', 'asc').orderBy('id', 'asc').limit(limit).execute()
    return rows.map((r) => normalise(r as CostRow))
  }

  async count(f: LogFilters): Promise<number> {
    const row = await this.db
      .selectFrom('logs')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where(this.where(f))
      .executeTakeFirst()
    return Number(row?.n ?? 0)
  }

  /** Writes new costs, in one transaction. */
  async setCosts(updates: { id: string; ts: number; cost: number }[]): Promise<void> {
    if (updates.length === 0) return
    await this.write(
      updates.map((u) =>
        this.db.updateTable('logs').set({ cost: u.cost }).where('id', '=', u.id).where('ts', '=', u.ts),
      ),
    )
  }

  /**
   * Removes entries older than `retentionDays`, and the content of entries older than
   * `contentDays`. On PostgreSQL whole day partitions are dropped (no row deletes, no bloat).
   */
  async enforceRetention(now: number, retentionDays: number, contentDays: number | undefined): Promise<void> {
    const cutoff = now - retentionDays * DAY_MS
    if (this.kind === 'postgres') {
      const { rows } = await sql<{ name: string }>`
        select c.relname as name from pg_inherits i
        join pg_class c on c.oid = i.inhrelid
        join pg_class p on p.oid = i.inhparent
        join pg_namespace n on n.oid = p.relnamespace
        where p.relname = 'logs' and n.nspname = current_schema()`.execute(this.db)
      for (const { name } of rows) {
        const m = /^logs_p(\d{4})(\d{2})(\d{2})$/.exec(name)
        if (!m) continue
        const start = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
        if (start + DAY_MS <= cutoff) {
          await sql.raw(`drop table if exists ${name}`).execute(this.db)
          this.partitions.delete(start)
        }
      }
      for (let d = 0; d <= 2; d++) await this.ensurePartition(now + d * DAY_MS)
    }
    const contentCutoff =
      contentDays !== undefined && contentDays < retentionDays ? now - contentDays * DAY_MS : undefined
    const writes: Compilable[] = []
    if (this.kind !== 'postgres') writes.push(this.db.deleteFrom('logs').where('ts', '<', cutoff))
    if (contentCutoff !== undefined) {
      // SQLite: the packed value keeps the attempt trail, as PostgreSQL's attempts column does.
      const packed =
        this.kind === 'postgres'
          ? {}
          : {
              content_packed: sql<Buffer>`${sql.raw(ATTEMPTS_ONLY_FUNCTION)}(content_packed)`,
              answer_text: null,
            }
      writes.push(
        this.db
          .updateTable('logs')
          .set({ input: null, output: null, content_summary: null, ...packed })
          .where('ts', '<', contentCutoff)
          .where((eb) =>
            eb.or([
              eb('input', 'is not', null),
              eb('content_summary', 'is not', null),
              ...(this.kind === 'postgres' ? [] : [eb('answer_text', 'is not', null)]),
            ]),
          ),
      )
    }
    await this.write(writes)
    await this.mcp.enforceRetention(cutoff, contentCutoff)
  }

  /** Rejects when the database does not answer. */
  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db)
  }

  async close(): Promise<void> {
    await this.writer?.close()
    this.forgetDictionaries?.()
    await this.db.destroy()
  }
}

/** SQLite's columns: the shared ones, then the packed texts and the answer's words. */
const SQLITE_COLUMN_NAMES = [...COLUMN_NAMES, ...SQLITE_ONLY_COLUMNS.map(([name]) => name)]

/** Where a SQLite row's texts go among its values. */
const PLACES: RowPlaces = {
  bundled: BUNDLED_COLUMNS.map((c) => COLUMN_NAMES.indexOf(c)),
  output: COLUMN_NAMES.indexOf('output'),
  packed: SQLITE_COLUMN_NAMES.indexOf('content_packed'),
  answer: SQLITE_COLUMN_NAMES.indexOf('answer_text'),
}

/** A row's values in SQLite's column order (the last two left for bundleRow): what the prepared insert binds. */
function valuesOf(row: LogRow): unknown[] {
  const values = new Array<unknown>(SQLITE_COLUMN_NAMES.length).fill(null)
  for (let i = 0; i < COLUMN_NAMES.length; i++) values[i] = row[COLUMN_NAMES[i]] ?? null
  return values
}

/**
 * PostgreSQL returns bigint columns as strings; SQLite returns a row's texts packed together (or,
 * written by an older version, each packed on its own) as bytes.
 */
function normalise<T extends Partial<LogRow> & PackedColumns>(row: T): T {
  if (row.ts !== undefined) row.ts = Number(row.ts)
  unpackRow(row)
  for (const column of PACKED_COLUMNS)
    if (row[column] !== undefined && typeof row[column] !== 'string') row[column] = unpackText(row[column])
  return row
}

/** An entry that one of its comma-joined routing engines names `engine` (Bifrost's routing_engine_used filter). */
function routingEngineIs(engine: string) {
  const pattern = `%,${engine.replace(/[\\%_]/g, (c) => `\\${c}`)},%`
  return sql<boolean>`(',' || routing_engine_used || ',') like ${pattern} escape '\\'`
}
