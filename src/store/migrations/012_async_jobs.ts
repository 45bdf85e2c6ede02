import type { Kysely, Migration } from 'kysely'

/**
 * Async inference jobs (/v1/async/...) and webhook deliveries. A job row holds the request to
 * replay, then its answer until it expires; a delivery row holds one webhook's payload, its
 * attempts and its last outcome, so that it can be listed and redelivered.
 */
export const asyncJobsMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('async_jobs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('request_type', 'text', (c) => c.notNull())
      /** The synchronous route the job replays, e.g. /v1/chat/completions. */
      .addColumn('route', 'text', (c) => c.notNull())
      .addColumn('model', 'text')
      .addColumn('virtual_key_id', 'text')
      /** JSON: the request body and the headers to replay (credentials left out when a virtual key is used). */
      .addColumn('request', 'text', (c) => c.notNull())
      .addColumn('callback_url', 'text')
      /** The registered webhook endpoint the caller named (x-bf-async-webhook). */
      .addColumn('webhook_endpoint', 'text')
      .addColumn('result_ttl_seconds', 'integer', (c) => c.notNull())
      .addColumn('status_code', 'integer')
      /** JSON: the route's answer, or the error in Bifrost's shape. */
      .addColumn('response', 'text')
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text')
      .addColumn('completed_at', 'text')
      .addColumn('expires_at', 'text')
      .execute()
    await db.schema
      .createIndex('async_jobs_status')
      .on('async_jobs')
      .columns(['status', 'created_at'])
      .execute()
    await db.schema.createIndex('async_jobs_expires').on('async_jobs').column('expires_at').execute()
    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('endpoint_id', 'text')
      .addColumn('async_job_id', 'text')
      /** JSON: the exact body sent (the signature covers these bytes). */
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_status_code', 'integer')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('next_attempt_at', 'text')
      .execute()
    await db.schema
      .createIndex('webhook_deliveries_created')
      .on('webhook_deliveries')
      .column('created_at')
      .execute()
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('webhook_deliveries').execute()
    await db.schema.dropTable('async_jobs').execute()
  },
}
