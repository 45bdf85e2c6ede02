import Database from 'better-sqlite3'
import { parentPort, workerData } from 'node:worker_threads'
import {
  addDictionarySource,
  BUILT_IN_DICTIONARY,
  DICTIONARY_TABLE_SQL,
  trainDictionary,
  type PackingDictionary,
} from './content-codec.js'
import {
  ATTEMPTS_ONLY_FUNCTION,
  bundleRow,
  keepAttemptsOnly,
  packBundle,
  type RowPlaces,
} from './row-packing.js'

/**
 * The thread that writes request logs to SQLite (see sqlite-writer.ts): it owns a connection of
 * its own, packs the texts of each row and inserts a batch in one transaction, so that neither
 * the deflating nor SQLite's synchronous writes hold up the gateway's event loop. The store's other
 * writes (retention, deletes, new costs) run here too, in order with the inserts.
 */

export interface WriterSetup {
  path: string
  /** The prepared insert of one row, its values in column order. */
  insertSql: string
  /** Where the texts packed together, the answer and the packed value are among a row's values. */
  places: RowPlaces
}

/** A statement the store compiled, with its parameters. */
export interface WriterStatement {
  sql: string
  parameters: readonly unknown[]
}

/** gateway → writer */
export type ToWriter =
  | { type: 'rows'; id: number; rows: unknown[][] }
  | { type: 'run'; id: number; statements: WriterStatement[] }
  | { type: 'close' }

/** Rows packed with the built-in dictionary before one is trained on the database's own. */
const TRAIN_AFTER_ROWS = 1000
/** Rows of a batch whose texts are sampled, spread over the batch. */
const SAMPLED_ROWS = 8

/** writer → gateway */
export type FromWriter =
  { type: 'written'; id: number; error?: string; changes?: number } | { type: 'closed' }

/** Long enough to outlast a retention run on the gateway's connection without failing a batch. */
const BUSY_TIMEOUT_MS = 30_000
const WRITER_CACHE_KIB = 16_384

const setup = workerData as WriterSetup
const port = parentPort
if (!port) throw new Error('sqlite-writer-thread runs in a worker thread')

const db = new Database(setup.path)
db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
db.pragma('synchronous = NORMAL')
// The indexes' pages an insert touches stay cached as the table grows (SQLite's default is 2 MiB).
db.pragma(`cache_size = -${WRITER_CACHE_KIB}`)
const statement = db.prepare(setup.insertSql)
const insertAll = db.transaction((rows: unknown[][]) => {
  for (const row of rows) statement.run(row)
})
/** Maintenance statements (retention, deletes, costs) in one transaction; the rows they changed. */
const runAll = db.transaction((statements: WriterStatement[]) => {
  let changes = 0
  for (const s of statements) changes += db.prepare(s.sql).run(...s.parameters).changes
  return changes
})

db.exec(DICTIONARY_TABLE_SQL)
// Content retention repacks what it keeps of a row here, inside its update (when this connection
// can run no other query): the database's dictionaries are known beforehand, as this thread adds them.
db.function(ATTEMPTS_ONLY_FUNCTION, { deterministic: true }, keepAttemptsOnly)
const known = new Map(
  (
    db.prepare('select id, dictionary from log_dictionaries').all() as { id: number; dictionary: Buffer }[]
  ).map((d) => [d.id, d.dictionary]),
)
addDictionarySource((id) => known.get(id))
const latest = db
  .prepare('select id, dictionary from log_dictionaries order by created_at desc, rowid desc limit 1')
  .get() as { id: number; dictionary: Buffer } | undefined
let dictionary: PackingDictionary = latest ? { id: latest.id, bytes: latest.dictionary } : BUILT_IN_DICTIONARY
let rowsUntrained = 0

/** After enough rows, a dictionary of the database's own texts, sampled from this batch. */
function trainOn(rows: unknown[][]): void {
  rowsUntrained += rows.length
  if (rowsUntrained < TRAIN_AFTER_ROWS) return
  const samples: string[] = []
  const step = Math.max(1, Math.floor(rows.length / SAMPLED_ROWS))
  const at = setup.places.packed
  for (let r = rows.length - 1; r >= 0; r -= step)
    if (typeof rows[r][at] === 'string') samples.push(rows[r][at] as string)
  const trained = trainDictionary(samples)
  db.prepare('insert into log_dictionaries (id, created_at, dictionary) values (?, ?, ?)').run(
    trained.id,
    Date.now(),
    trained.bytes,
  )
  dictionary = trained
  known.set(trained.id, trained.bytes)
}

port.on('message', (message: ToWriter) => {
  if (message.type === 'close') {
    db.close()
    port.postMessage({ type: 'closed' } satisfies FromWriter)
    port.close()
    return
  }
  let reply: FromWriter
  try {
    if (message.type === 'run') {
      reply = { type: 'written', id: message.id, changes: runAll(message.statements) }
    } else {
      // Packed before the transaction, so that the write lock is held for the inserts only.
      for (const row of message.rows) bundleRow(row, setup.places)
      if (dictionary === BUILT_IN_DICTIONARY) trainOn(message.rows)
      for (const row of message.rows) packBundle(row, setup.places, dictionary)
      insertAll(message.rows)
      reply = { type: 'written', id: message.id }
    }
  } catch (err) {
    reply = { type: 'written', id: message.id, error: (err as Error).message }
  }
  port.postMessage(reply)
})
