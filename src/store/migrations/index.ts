import type { Migration } from 'kysely'
import { providersMigration } from './001_providers.js'
import { governanceMigration } from './002_governance.js'
import { usersProfilesMigration } from './003_users_profiles.js'
import { mcpClientsMigration } from './004_mcp_clients.js'
import { oauthServerMigration } from './005_oauth_server.js'
import { mcpOAuthCredentialsMigration } from './006_mcp_oauth_credentials.js'
import { vkContentLoggingMigration } from './007_vk_content_logging.js'
import { providerObjectsMigration } from './008_provider_objects.js'
import { configVersionMigration } from './009_config_version.js'
import { semanticCacheMigration } from './010_semantic_cache.js'
import { routingRulesMigration } from './011_routing_rules.js'
import { asyncJobsMigration } from './012_async_jobs.js'
import { modelLimitsMigration } from './013_model_limits.js'
import { webhookEndpointsMigration } from './014_webhook_endpoints.js'
import { asyncJobCostMigration } from './015_async_job_cost.js'
import { budgetOverridesMigration } from './016_budget_overrides.js'

/**
 * The config store's migrations, applied in the order of their names at every open. Append new
 * ones (`002_governance`, ...); never edit or reorder one that has shipped. Column conventions
 * (JSON as text, booleans as 0/1, ISO timestamps) are described in ../tables.ts.
 */
export const configStoreMigrations: Readonly<Record<string, Migration>> = {
  '001_providers': providersMigration,
  '002_governance': governanceMigration,
  '003_users_profiles': usersProfilesMigration,
  '004_mcp_clients': mcpClientsMigration,
  '005_oauth_server': oauthServerMigration,
  '006_mcp_oauth_credentials': mcpOAuthCredentialsMigration,
  '007_vk_content_logging': vkContentLoggingMigration,
  '008_provider_objects': providerObjectsMigration,
  '009_config_version': configVersionMigration,
  '010_semantic_cache': semanticCacheMigration,
  '011_routing_rules': routingRulesMigration,
  '012_async_jobs': asyncJobsMigration,
  '013_model_limits': modelLimitsMigration,
  '014_webhook_endpoints': webhookEndpointsMigration,
  '015_async_job_cost': asyncJobCostMigration,
  '016_budget_overrides': budgetOverridesMigration,
}
