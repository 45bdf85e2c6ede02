import Database from 'better-sqlite3'
import { parentPort, workerData } from 'node:worker_threads'
import { packValues } from './content-codec.js'

/**
 * The thread that writes request logs to SQLite (see sqlite-writer.ts): it owns a connection of
 * its own, packs the long texts of each row and inserts a batch in one transaction, so that
 * neither the deflating nor SQLite's synchronous writes hold up the gateway's event loop.
 */

export interface WriterSetup {
  path: string
  /** The prepared insert of one row, its values in column order. */
  insertSql: string
  /** Places of the columns whose texts are packed. */
  packedAt: number[]
}

/** gateway → writer */
export type ToWriter = { type: 'rows'; id: number; rows: unknown[][] } | { type: 'close' }

/** writer → gateway */
export type FromWriter = { type: 'written'; id: number; error?: string } | { type: 'closed' }

/** Long enough to outlast a retention run on the gateway's connection without failing a batch. */
const BUSY_TIMEOUT_MS = 30_000

const setup = workerData as WriterSetup
const port = parentPort
if (!port) throw new Error('sqlite-writer-thread runs in a worker thread')

const db = new Database(setup.path)
db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
db.pragma('synchronous = NORMAL')
const statement = db.prepare(setup.insertSql)
const insertAll = db.transaction((rows: unknown[][]) => {
  for (const row of rows) statement.run(row)
})

port.on('message', (message: ToWriter) => {
  if (message.type === 'close') {
    db.close()
    port.postMessage({ type: 'closed' } satisfies FromWriter)
    port.close()
    return
  }
  let reply: FromWriter
  try {
    // Packed before the transaction, so that the write lock is held for the inserts only.
    for (const row of message.rows) packValues(row, setup.packedAt)
    insertAll(message.rows)
    reply = { type: 'written', id: message.id }
  } catch (err) {
    reply = { type: 'written', id: message.id, error: (err as Error).message }
  }
  port.postMessage(reply)
})
