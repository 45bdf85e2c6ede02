import { sql } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { normalizeProvider } from '../src/core/config.js'
import { openConfigStore, readConfigVersion, type ConfigStore } from '../src/store/index.js'
import { backends, tempDir } from './helpers/databases.js'

/**
 * The config store's change counter (migration 009): bumped by the commit of every change to the
 * configuration nodes hold in memory, once per transaction on PostgreSQL, never by a rolled-back
 * one, and not by the usage write-back of budgets and rate limits.
 */
describe.each(backends('config_version'))('the config change counter on $kind', (backend) => {
  const stores: ConfigStore[] = []
  afterAll(async () => {
    for (const s of stores) await s.close()
    await backend.teardown()
  })

  async function open(): Promise<ConfigStore> {
    const store = await openConfigStore(await backend.fresh(), { appDir: tempDir('config-version') })
    stores.push(store)
    return store
  }

  const EPOCH = new Date(0).toISOString()

  it('moves with config changes, not with usage write-back or a rolled-back change', async () => {
    const store = await open()
    let last = Number(await readConfigVersion(store.db))
    const moved = async () => {
      const now = Number(await readConfigVersion(store.db))
      const by = now - last
      last = now
      return by
    }

    await store.putProvider(
      normalizeProvider('openai', { keys: [{ name: 'a', value: 'sk-a', models: ['*'], weight: 1 }] }),
    )
    // On PostgreSQL a transaction counts once, however many rows it wrote.
    expect(await moved()).toBe(store.kind === 'postgres' ? 1 : 2)
    await store.setValue('pricing_overrides', [])
    expect(await moved()).toBe(1)

    await sql`insert into gov_budgets (id, max_limit, reset_duration, calendar_aligned, last_reset, current_usage, created_at, updated_at)
      values ('b1', 10, '1d', 0, ${EPOCH}, 0, ${EPOCH}, ${EPOCH})`.execute(store.db)
    expect(await moved()).toBe(1)
    await sql`update gov_budgets set current_usage = 3, last_reset = ${new Date().toISOString()} where id = 'b1'`.execute(
      store.db,
    )
    expect(await moved()).toBe(0)
    await sql`update gov_budgets set max_limit = 20 where id = 'b1'`.execute(store.db)
    expect(await moved()).toBe(1)

    await expect(
      store.db.transaction().execute(async (trx) => {
        await trx.deleteFrom('kv').where('key', '=', 'pricing_overrides').execute()
        throw new Error('changed my mind')
      }),
    ).rejects.toThrow('changed my mind')
    expect(await moved()).toBe(0)
    expect(await store.deleteProvider('openai')).toBe(true)
    expect(await moved()).toBeGreaterThan(0)
  })
})
