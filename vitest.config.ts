import { defineConfig } from 'vitest/config'

/**
 * Test files that may run two at a time: each starts its own in-process Heimdall against fake
 * providers (its own temp dir, PostgreSQL database and Redis prefix); they wait only by polling for
 * a condition (never a fixed sleep before a check), and have no child processes, no browser, no
 * second node, no restart and no time-bound assertion. Every other file under test/ (fault
 * injection, clusters, the CLI, MCP children, browsers, restarts, fixed sleeps, timings) runs
 * alone, as before. A new file runs alone until it is listed here.
 */
const TWO_AT_A_TIME = [
  'access-profile-assignment',
  'access-profiles-api',
  'admin-auth',
  'admin-setup',
  'anthropic-batches-files',
  'anthropic-message-start-usage',
  'anthropic-models-and-complete',
  'anthropic-provider',
  'bad-input',
  'batch-inline-requests',
  'bedrock-batches-v1',
  'bedrock-integration',
  'bedrock-invoke',
  'bedrock-model-invocation-jobs',
  'bedrock-provider',
  'bifrost-config-shapes',
  'bifrost-config-stores-and-deprecated',
  'bifrost-openapi-walk',
  'bifrost-schemas',
  'budget-bound-long-prompts',
  'cohere-integration',
  'cohere-provider',
  'config-version',
  'containers',
  'count-tokens',
  'deeply-nested-json-refused',
  'file-batch-ownership',
  'files-batches',
  'frameworks',
  'frameworks-paths',
  'gemini-batches-v1',
  'gemini-media',
  'gemini-provider',
  'genai-models-and-files',
  'genai-predict',
  'governance-api',
  'governance-api-bad-input',
  'governance-config-import',
  'images-edits',
  'integration-anthropic',
  'integration-genai',
  'integration-openai',
  'integration-openai-azure',
  'log-content-capped',
  'logs',
  'logs-cost-estimated',
  'logs-mcp-sessions-filters',
  'logs-privacy',
  'matrix',
  'mcp-connection-string-env-var',
  'mcp-login-binding',
  'mcp-oauth-discovery-addresses',
  'mcp-orphan',
  'mcp-virtual',
  'metrics',
  'model-provider-governance',
  'models-api',
  'multipart-provider-field-order',
  'openai-sdk',
  'page-headers',
  'plugins-api',
  'plugins-builtin',
  'pricing-force-sync',
  'pricing-models-direct-keys',
  'prompt-caching-anthropic',
  'prompt-caching-sdks',
  'provider-name-lookup',
  'provider-network-secrets',
  'providers-api',
  'proxy-config',
  'responses-stream-error-event',
  'reused-request-id-logged',
  'semantic-cache-costs',
  'store',
  'structured-output',
  'translation-matrix',
  'upstream-error-messages',
  'upstream-path-encoding',
  'users-api',
  'v1-extra-fields',
].map((name) => `test/${name}.test.ts`)

/** Unit tests that time a sandboxed script (QuickJS): alone, with the files under test/. */
const UNIT_TIMED = ['src/mcp/code-mode/sandbox.test.ts']

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup/require-services.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
    // One report for all three projects: the JSON reporter (scripts/test-summary.mjs) counts them all.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
          exclude: UNIT_TIMED,
          // Pure functions on in-memory data: one worker process imports src/ once for many files.
          isolate: false,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'two-at-a-time',
          include: TWO_AT_A_TIME,
          // Each file in a process of its own: with isolate: false (imports shared, ~2.5x less CPU)
          // providers-api failed once (a custom provider answered 400) and passed alone.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'alone',
          include: ['test/**/*.test.ts', ...UNIT_TIMED],
          exclude: TWO_AT_A_TIME,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
