import { type Kysely, type Migration } from 'kysely'
import { serialIds } from './shared-ddl.js'

/**
 * Users, access profiles (templates, their tags and version snapshots, and their assignment to
 * users) and the management API's login sessions. Row types: ../tables.ts.
 */
export const usersProfilesMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const { serialType, serial } = serialIds(db)

    await db.schema
      .createTable('gov_users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('email', 'text', (c) => c.notNull())
      // The address in lower case: emails are unique whatever their case.
      .addColumn('email_key', 'text', (c) => c.notNull().unique())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('role_id', 'integer')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute()

    await db.schema
      .createTable('gov_access_profiles')
      .addColumn('id', serialType, serial)
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('description', 'text')
      .addColumn('is_active', 'integer', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('tags', 'text', (c) => c.notNull())
      .addColumn('provider_configs', 'text', (c) => c.notNull())
      .addColumn('budgets', 'text', (c) => c.notNull())
      .addColumn('rate_limit', 'text')
      .addColumn('calendar_aligned', 'integer', (c) => c.notNull())
      .addColumn('mcp_tool_groups', 'text', (c) => c.notNull())
      .addColumn('mcp_servers', 'text', (c) => c.notNull())
      .addColumn('mcp_tool_overrides', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute()

    // One row per tag, so that the list can filter by tag in SQL on both dialects.
    await db.schema
      .createTable('gov_access_profile_tags')
      .addColumn('profile_id', 'integer', (c) =>
        c.notNull().references('gov_access_profiles.id').onDelete('cascade'),
      )
      .addColumn('tag', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('gov_access_profile_tags_pk', ['profile_id', 'tag'])
      .execute()
    await db.schema
      .createIndex('gov_access_profile_tags_tag_idx')
      .on('gov_access_profile_tags')
      .column('tag')
      .execute()

    await db.schema
      .createTable('gov_access_profile_versions')
      .addColumn('id', serialType, serial)
      .addColumn('profile_id', 'integer', (c) =>
        c.notNull().references('gov_access_profiles.id').onDelete('cascade'),
      )
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('snapshot', 'text', (c) => c.notNull())
      .addColumn('changed_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('gov_access_profile_versions_unique', ['profile_id', 'version'])
      .execute()

    // A profile assigned to a user. The profile cannot be deleted while such a row refers to it.
    await db.schema
      .createTable('gov_user_access_profiles')
      .addColumn('id', serialType, serial)
      .addColumn('user_id', 'text', (c) => c.notNull().references('gov_users.id').onDelete('cascade'))
      .addColumn('profile_id', 'integer', (c) => c.notNull().references('gov_access_profiles.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('is_active', 'integer', (c) => c.notNull())
      .addColumn('profile_version', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('gov_user_access_profiles_unique', ['user_id', 'profile_id'])
      .execute()
    await db.schema
      .createIndex('gov_user_access_profiles_profile_idx')
      .on('gov_user_access_profiles')
      .column('profile_id')
      .execute()

    await db.schema
      .createTable('sessions')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('sessions_expires_at_idx').on('sessions').column('expires_at').execute()
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('sessions').execute()
    await db.schema.dropTable('gov_user_access_profiles').execute()
    await db.schema.dropTable('gov_access_profile_versions').execute()
    await db.schema.dropTable('gov_access_profile_tags').execute()
    await db.schema.dropTable('gov_access_profiles').execute()
    await db.schema.dropTable('gov_users').execute()
  },
}
