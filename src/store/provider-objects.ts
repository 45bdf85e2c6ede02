import type { Kysely } from 'kysely'
import type { ProviderObjectKind, ProviderObjectsTables } from './tables.js'
import type { ConfigStoreTables } from './tables.js'

/** Ids per query: well under SQLite's and PostgreSQL's limits on bound parameters. */
const IDS_PER_QUERY = 500

/** The stable primary key of a provider object (Bifrost's `ProviderObjectID`). */
export function providerObjectId(kind: ProviderObjectKind, provider: string, objectId: string): string {
  return `${kind}:${provider}:${objectId}`
}

/**
 * The creators of files and batches, in the config store. The first record of an id wins: an
 * object has one creator, and a later write (a replayed response, a second sighting) never hands it
 * to someone else.
 */
export class ProviderObjects {
  private readonly db: Kysely<ConfigStoreTables & ProviderObjectsTables>

  constructor(db: Kysely<ConfigStoreTables>) {
    this.db = db.withTables<ProviderObjectsTables>()
  }

  /** Records the creator (`null`: a request without a virtual key) unless one is recorded already. */
  async upsertProviderObject(
    kind: ProviderObjectKind,
    provider: string,
    objectId: string,
    virtualKeyId: string | null,
  ): Promise<void> {
    await this.db
      .insertInto('provider_objects')
      .values({
        id: providerObjectId(kind, provider, objectId),
        kind,
        provider,
        object_id: objectId,
        virtual_key_id: virtualKeyId,
        created_at: new Date().toISOString(),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute()
  }

  /** The recorded creator of each of `objectIds` that has one (`null`: made without a virtual key). */
  async getProviderObjectsByIds(
    kind: ProviderObjectKind,
    provider: string,
    objectIds: readonly string[],
  ): Promise<Map<string, string | null>> {
    const owners = new Map<string, string | null>()
    const unique = [...new Set(objectIds)]
    for (let i = 0; i < unique.length; i += IDS_PER_QUERY) {
      const ids = unique.slice(i, i + IDS_PER_QUERY).map((id) => providerObjectId(kind, provider, id))
      const rows = await this.db
        .selectFrom('provider_objects')
        .select(['object_id', 'virtual_key_id'])
        .where('id', 'in', ids)
        .execute()
      for (const row of rows) owners.set(row.object_id, row.virtual_key_id)
    }
    return owners
  }

  /** Forgets an object's creator once the object is gone; forgetting an unknown id is no error. */
  async deleteProviderObject(kind: ProviderObjectKind, provider: string, objectId: string): Promise<void> {
    await this.db
      .deleteFrom('provider_objects')
      .where('id', '=', providerObjectId(kind, provider, objectId))
      .execute()
  }
}
