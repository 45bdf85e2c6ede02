import type { Migration } from 'kysely'
import { providersMigration } from './001_providers.js'

/**
 * The config store's migrations, applied in the order of their names at every open. Append new
 * ones (`002_governance`, ...); never edit or reorder one that has shipped. Column conventions
 * (JSON as text, booleans as 0/1, ISO timestamps) are described in ../tables.ts.
 */
export const configStoreMigrations: Readonly<Record<string, Migration>> = {
  '001_providers': providersMigration,
}
