import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { call, startFromFile, type Started } from './helpers/config-file.js'

/**
 * config.json files written for Bifrost (transports/config.schema.json) start Heimdall: what
 * Heimdall implements is read, what it does not is left unread with a warning.
 */

/** Adapted from the shapes of Bifrost's config.schema.json, with most optional fields set. */
function bifrostConfig(openaiUrl: string) {
  return {
    $schema: 'https://www.getbifrost.ai/schema',
    version: 2,
    source_of_truth: 'split',
    env_label: 'staging',
    server: { read_buffer_size: 65536 },
    encryption_key: 'a-long-enough-passphrase-for-tests',
    client: {
      drop_excess_requests: false,
      initial_pool_size: 300,
      prometheus_labels: ['team'],
      allowed_origins: ['*', 'https://app.example.com'],
      enable_logging: true,
      disable_content_logging: false,
      allow_per_request_content_storage_override: false,
      allow_per_request_raw_override: false,
      disable_db_pings_in_health: false,
      dump_errors_in_console_logs: false,
      webhook_config: { delivery_history_retention_days: 30 },
      log_retention_days: 30,
      enforce_governance_header: false,
      dual_credential_conflict_behavior: 'prefer_idp',
      max_request_body_size_mb: 50,
      compat: { convert_text_to_chat: true, should_drop_params: true, should_convert_params: false },
      header_filter_config: { allowlist: ['x-custom'], denylist: ['x-secret'] },
      async_job_result_ttl: 3600,
      required_headers: [],
      logging_headers: ['x-request-source'],
      whitelisted_routes: ['/api/custom-health'],
      hide_deleted_virtual_keys_in_filters: true,
      allowed_headers: ['x-extra'],
      allow_direct_keys: false,
      mcp_agent_depth: 5,
      mcp_tool_execution_timeout: 30,
      mcp_code_mode_binding_level: 'server',
      mcp_tool_sync_interval: 10,
      routing_chain_max_depth: 10,
      mcp_server_auth_mode: 'headers',
      mcp_external_client_url: { value: 'https://gw.example.com', env_var: '', from_env: false },
      oauth2_server_config: {
        issuer_url: { value: '', env_var: 'HS_ISSUER_URL', from_env: true },
        auth_code_ttl: 300,
        access_token_ttl: 600,
      },
    },
    framework: {
      pricing: { pricing_url: 'https://example.com/pricing.json', pricing_sync_interval: 86400 },
    },
    providers: {
      openai: {
        keys: [
          {
            name: 'openai-main',
            value: 'sk-openai-1',
            models: ['*'],
            weight: 1,
            use_for_batch_api: true,
            aliases: {
              fast: 'gpt-4o-mini',
              smart: { model_id: 'gpt-4o', model_name: 'gpt-4o', model_family: 'openai' },
            },
          },
        ],
        network_config: {
          base_url: openaiUrl,
          extra_headers: { 'x-team': 'platform' },
          default_request_timeout_in_seconds: 30,
          max_retries: 2,
          retry_backoff_initial: 500,
          retry_backoff_max: 5000,
          enforce_http2: false,
          stream_idle_timeout_in_seconds: 120,
          keep_alive_timeout_in_seconds: 30,
          max_conns_per_host: 5000,
          beta_header_overrides: { 'redact-thinking-': false },
        },
        concurrency_and_buffer_size: { concurrency: 100, buffer_size: 500 },
        proxy_config: { type: 'none' },
        send_back_raw_request: false,
        send_back_raw_response: false,
        store_raw_request_response: false,
      },
      anthropic: {
        keys: [
          { name: 'anthropic-main', value: 'env.HS_ANTHROPIC_KEY', models: ['claude-sonnet-4'], weight: 1 },
        ],
        proxy_config: null,
      },
      azure: {
        keys: [
          {
            name: 'azure-entra',
            value: '',
            models: ['gpt-4o'],
            weight: 1,
            azure_key_config: {
              endpoint: 'https://example.openai.azure.com',
              client_id: 'cid',
              client_secret: 'csecret',
              tenant_id: 'tid',
              scopes: ['https://cognitiveservices.azure.com/.default'],
              api_version: '2024-10-21',
            },
          },
        ],
      },
      vertex: {
        keys: [
          {
            name: 'vertex-main',
            value: '',
            models: ['gemini-2.0-flash'],
            weight: 1,
            vertex_key_config: {
              project_id: 'my-project',
              project_number: '123456',
              region: 'us-central1',
              auth_credentials: '',
              force_single_region: true,
            },
          },
        ],
      },
      bedrock: {
        keys: [
          {
            name: 'bedrock-main',
            value: '',
            models: ['*'],
            weight: 1,
            bedrock_key_config: {
              access_key: 'AKIAEXAMPLE',
              secret_key: 'secret',
              region: 'us-east-1',
              role_arn: 'arn:aws:iam::123456789012:role/bedrock',
              external_id: 'ext',
              session_name: 'heimdall',
              deployments: { claude: 'anthropic.claude-3-5-sonnet-20240620-v1:0' },
              batch_s3_config: { buckets: [{ bucket_name: 'batches', prefix: 'in/', is_default: true }] },
            },
          },
        ],
      },
      ollama: {
        keys: [
          {
            name: 'ollama-local',
            value: '',
            models: ['*'],
            weight: 1,
            ollama_key_config: { url: 'http://127.0.0.1:11434' },
          },
        ],
      },
      vllm: {
        keys: [
          {
            name: 'vllm-1',
            value: '',
            models: ['*'],
            weight: 1,
            vllm_key_config: { url: 'http://127.0.0.1:8000', model_name: 'meta-llama/Llama-3.1-8B' },
          },
        ],
        network_config: { extra_headers: { 'x-a': 'b' } },
      },
      sgl: {
        keys: [
          {
            name: 'sgl-1',
            value: '',
            models: ['*'],
            weight: 1,
            sgl_key_config: { url: 'http://127.0.0.1:30000' },
          },
        ],
      },
      replicate: {
        keys: [
          {
            name: 'replicate-1',
            value: 'r8-x',
            models: ['*'],
            weight: 1,
            replicate_key_config: { use_deployments_endpoint: false },
          },
        ],
      },
      bedrock_mantle: {
        keys: [
          {
            name: 'mantle-1',
            value: '',
            models: ['*'],
            weight: 1,
            bedrock_mantle_key_config: { region: 'us-east-1' },
          },
        ],
      },
      'my-openai-proxy': {
        keys: [{ name: 'custom-1', value: 'sk-custom', models: ['*'], weight: 1 }],
        network_config: { base_url: openaiUrl },
        custom_provider_config: {
          base_provider_type: 'openai',
          is_key_less: false,
          request_path_overrides: { chat_completion: '/v1/chat/completions' },
          allowed_requests: { chat_completion: true, chat_completion_stream: true, list_models: true },
        },
      },
    },
    governance: {
      budgets: [
        {
          id: 'budget-team',
          max_limit: 100,
          reset_duration: '1M',
          current_usage: 0,
          calendar_aligned: false,
        },
        { id: 'budget-vk', max_limit: 10, reset_duration: '1d' },
      ],
      rate_limits: [
        { id: 'rl-vk', request_max_limit: 100, request_reset_duration: '1m', token_current_usage: 0 },
      ],
      customers: [
        {
          id: 'cust-1',
          name: 'Acme',
          budgets: [{ id: 'b-cust', max_limit: 1000, reset_duration: '1M' }],
          calendar_aligned: true,
        },
      ],
      teams: [
        {
          id: 'team-1',
          name: 'Platform',
          customer_id: 'cust-1',
          budget_id: 'budget-team',
          source_id: 'scim-1',
          profile: { owner: 'a' },
          config: {},
          claims: {},
        },
      ],
      business_units: [{ id: 'bu-1', name: 'Engineering', team_ids: ['team-1'] }],
      virtual_keys: [
        {
          id: 'vk-1',
          name: 'ci',
          description: 'CI pipeline',
          value: 'sk-bf-ci-value-from-file',
          is_active: true,
          team_id: 'team-1',
          budget_id: 'budget-vk',
          rate_limit_id: 'rl-vk',
          provider_configs: [
            { provider: 'openai', weight: 1, allowed_models: ['*'], blacklisted_models: [], key_ids: ['*'] },
            { provider: 'anthropic', weight: null, allowed_models: ['claude-sonnet-4'] },
          ],
          // Bifrost's database form: the MCP client by its numeric id only.
          mcp_configs: [{ mcp_client_id: 3, tools_to_execute: ['*'] }],
        },
      ],
      routing_rules: [
        {
          id: 'rr-1',
          name: 'cheap',
          enabled: true,
          cel_expression: 'headers["x-tier"] == "cheap"',
          targets: [{ provider: 'openai', model: 'gpt-4o-mini', weight: 1 }],
          scope: 'global',
          priority: 0,
        },
      ],
      model_configs: [{ id: 'mc-1', model_name: 'gpt-4o', provider: 'openai', budget_ids: ['budget-vk'] }],
    },
    mcp: {
      client_configs: [],
      tool_manager_config: {
        tool_execution_timeout: '30s',
        max_agent_depth: 5,
        code_mode_binding_level: 'server',
      },
      tool_sync_interval: '10m',
    },
    vector_store: { enabled: true, type: 'redis', config: { addr: '127.0.0.1:6379', db: 0 } },
    config_store: { enabled: true, type: 'sqlite', config: { path: 'config.db' } },
    logs_store: {
      enabled: true,
      type: 'sqlite',
      config: { path: 'logs.db' },
      writer: { max_batch_size: 1000, batch_interval: '5s', write_queue_capacity: 10000 },
    },
    plugins: [
      { enabled: true, name: 'telemetry', config: { custom_labels: ['team'] } },
      { enabled: true, name: 'logging', config: { disable_content_logging: false } },
      { enabled: true, name: 'governance', config: { is_vk_mandatory: false } },
      {
        enabled: false,
        name: 'semantic_cache',
        config: { provider: 'openai', embedding_model: 'text-embedding-3-small', dimension: 1536, ttl: '5m' },
      },
      { enabled: true, name: 'maxim', config: { api_key: 'mx', log_repo_id: 'r' } },
      {
        enabled: true,
        name: 'my-plugin',
        path: '/opt/plugins/my.so',
        version: 1,
        placement: 'post_builtin',
        order: 0,
      },
    ],
    websocket: { max_connections_per_user: 100 },
    // A policy for a provider config.json does not have: named as not applied.
    circuit_breaker_config: {
      policies: [
        {
          name: 'ptu',
          primary_provider: 'azure-ptu',
          primary_model: 'gpt-4o',
          fallback_provider: 'openai',
          fallback_model: 'gpt-4o',
          condition: { signals: [{ source: 'response_header', header_name: 'x-ms-overloaded' }] },
        },
      ],
    },
  }
}

let fake: FakeServer
beforeAll(async () => {
  fake = await startFakeOpenAI()
})
afterAll(async () => {
  await fake?.close()
})

describe("config.json in Bifrost's shapes", () => {
  let h: Started

  beforeAll(async () => {
    h = await startFromFile(bifrostConfig(fake.url), {
      HS_ANTHROPIC_KEY: 'sk-ant-test',
      HS_ISSUER_URL: 'https://issuer.example.com',
    })
  })
  afterAll(async () => {
    await h?.close()
  })

  it('starts, and reads the client settings back through GET /api/config', async () => {
    const { status, body } = await call(h, 'GET', '/api/config')
    expect(status).toBe(200)
    expect(body.client_config).toMatchObject({
      max_request_body_size_mb: 50,
      log_retention_days: 30,
      allowed_origins: ['*', 'https://app.example.com'],
      whitelisted_routes: ['/api/custom-health'],
      mcp_agent_depth: 5,
      enforce_auth_on_inference: false,
      prometheus_labels: ['team'],
      compat: { convert_text_to_chat: true, should_drop_params: true, should_convert_params: false },
      header_filter_config: { allowlist: ['x-custom'], denylist: ['x-secret'] },
      // Bifrost's {value, env_var, from_env} form, read as the text it stands for.
      mcp_external_client_url: 'https://gw.example.com',
      oauth2_server_config: { issuer_url: 'https://issuer.example.com', auth_code_ttl: 300 },
    })
    expect(body.is_logs_connected).toBe(true)
  })

  it('reads providers with their network, concurrency and *_key_config objects back through /api/providers', async () => {
    const { body } = await call(h, 'GET', '/api/providers')
    const byName = new Map<string, any>(body.providers.map((p: any) => [p.name, p]))
    expect([...byName.keys()].sort()).toEqual(
      [
        'anthropic',
        'azure',
        'bedrock',
        'my-openai-proxy',
        'ollama',
        'openai',
        'sgl',
        'vertex',
        'vllm',
      ].sort(),
    )
    expect(byName.get('openai')).toMatchObject({
      network_config: {
        base_url: fake.url,
        // Header values may carry credentials: shown redacted.
        extra_headers: { 'x-team': expect.any(String) },
        max_retries: 2,
        retry_backoff_initial: 500,
        retry_backoff_max: 5000,
        stream_idle_timeout_in_seconds: 120,
      },
      concurrency_and_buffer_size: { concurrency: 100, buffer_size: 500 },
      proxy_config: { type: 'none' },
      keys: [
        {
          name: 'openai-main',
          use_for_batch_api: true,
          aliases: { fast: 'gpt-4o-mini', smart: { model_id: 'gpt-4o', model_family: 'openai' } },
        },
      ],
    })
    expect(byName.get('anthropic')).not.toHaveProperty('proxy_config')
    expect(byName.get('anthropic').keys[0].value).toBe('env.HS_ANTHROPIC_KEY')
    expect(byName.get('azure').keys[0].azure_key_config).toMatchObject({
      endpoint: 'https://example.openai.azure.com',
      client_id: 'cid',
      tenant_id: 'tid',
      scopes: ['https://cognitiveservices.azure.com/.default'],
    })
    expect(byName.get('vertex').keys[0].vertex_key_config).toMatchObject({
      project_id: 'my-project',
      region: 'us-central1',
      force_single_region: true,
    })
    expect(byName.get('bedrock').keys[0].bedrock_key_config).toMatchObject({
      region: 'us-east-1',
      deployments: { claude: 'anthropic.claude-3-5-sonnet-20240620-v1:0' },
      batch_s3_config: { buckets: [{ bucket_name: 'batches', is_default: true }] },
    })
    expect(byName.get('vllm').keys[0].vllm_key_config).toEqual({
      url: 'http://127.0.0.1:8000',
      model_name: 'meta-llama/Llama-3.1-8B',
    })
    expect(byName.get('ollama').keys[0].ollama_key_config).toEqual({ url: 'http://127.0.0.1:11434' })
    expect(byName.get('sgl').keys[0].sgl_key_config).toEqual({ url: 'http://127.0.0.1:30000' })
    expect(byName.get('my-openai-proxy').custom_provider_config).toMatchObject({
      base_provider_type: 'openai',
      allowed_requests: { chat_completion: true },
    })
  })

  it("imports the governance entries and routes an alias in Bifrost's object form to its model_id", async () => {
    const vk = await call(h, 'GET', '/api/governance/virtual-keys/vk-1')
    expect(vk.body.virtual_key).toMatchObject({ name: 'ci', team_id: 'team-1' })
    const res = await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-bf-vk': 'sk-bf-ci-value-from-file' },
      body: JSON.stringify({ model: 'openai/smart', messages: [{ role: 'user', content: 'hi' }] }),
    })
    expect(res.status, await res.clone().text()).toBe(200)
    expect(fake.requests.at(-1)?.body.model).toBe('gpt-4o')
    // The file's routing rule is imported and routes the requests it matches.
    const rule = await call(h, 'GET', '/api/routing/rules/rr-1')
    expect(rule.body.rule).toMatchObject({ name: 'cheap', scope: 'global' })
    const cheap = await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-bf-vk': 'sk-bf-ci-value-from-file',
        'x-tier': 'cheap',
      },
      body: JSON.stringify({ model: 'openai/smart', messages: [{ role: 'user', content: 'hi' }] }),
    })
    expect(cheap.status, await cheap.clone().text()).toBe(200)
    expect(fake.requests.at(-1)?.body.model).toBe('gpt-4o-mini')
  })

  it('warns about each part it does not implement, naming it', () => {
    const sections = h.warnings.map((w) => w.section)
    for (const section of [
      'server',
      'env_label',
      'framework',
      'vector_store',
      'websocket',
      'circuit_breaker_config.policies.0.primary_provider',
      'client',
      'providers.replicate',
      'providers.bedrock_mantle',
      'providers.openai.network_config',
      'governance.business_units',
      'governance.model_configs',
      'governance.virtual_keys.0.mcp_configs',
      'mcp.tool_sync_interval',
      'plugins.maxim',
      'plugins.my-plugin',
    ]) {
      expect(sections, section).toContain(section)
    }
    // A disabled plugin, and the ones Heimdall implements or has built in, are not warned about.
    for (const quiet of [
      'plugins.semantic_cache',
      'plugins.telemetry',
      'plugins.logging',
      'plugins.governance',
      'governance.routing_rules',
    ])
      expect(sections).not.toContain(quiet)
    expect(h.warnings.find((w) => w.section === 'client')?.msg).toContain('prometheus_labels')
  })

  it('accepts proxy_config: null through the provider API and PUT /api/config', async () => {
    const body = {
      keys: [{ name: 'k', value: 'sk-groq', models: ['*'], weight: 1 }],
      proxy_config: null,
    }
    const created = await call(h, 'POST', '/api/providers', { provider: 'groq', ...body })
    expect(created.status, JSON.stringify(created.body)).toBe(200)
    expect(created.body).not.toHaveProperty('proxy_config')
    const withProxy = await call(h, 'PUT', '/api/providers/groq', {
      ...body,
      proxy_config: { type: 'http', url: 'http://proxy.internal:3128' },
    })
    expect(withProxy.body.proxy_config).toMatchObject({ type: 'http' })
    const cleared = await call(h, 'PUT', '/api/providers/groq', body)
    expect(cleared.status, JSON.stringify(cleared.body)).toBe(200)
    expect(cleared.body).not.toHaveProperty('proxy_config')
    const put = await call(h, 'PUT', '/api/config', {
      client_config: { log_retention_days: 31 },
      proxy_config: null,
    })
    expect(put.status, JSON.stringify(put.body)).toBe(200)
  })

  it('reads members Bifrost writes as null as not set, in the provider and config APIs', async () => {
    const provider = await call(h, 'POST', '/api/providers', {
      provider: 'deepseek',
      keys: [
        { name: 'd', value: 'sk-deepseek', models: ['*'], weight: 1, aliases: null, azure_key_config: null },
      ],
      network_config: null,
      concurrency_and_buffer_size: null,
      custom_provider_config: null,
      send_back_raw_response: null,
    })
    expect(provider.status, JSON.stringify(provider.body)).toBe(200)
    expect(provider.body.keys[0]).not.toHaveProperty('aliases')
    expect(provider.body.concurrency_and_buffer_size).toEqual({ concurrency: 1000, buffer_size: 5000 })
    const key = await call(h, 'POST', '/api/providers/deepseek/keys', {
      name: 'd2',
      value: 'sk-deepseek-2',
      models: ['*'],
      weight: 1,
      aliases: null,
    })
    expect(key.status, JSON.stringify(key.body)).toBe(200)
    const put = await call(h, 'PUT', '/api/config', {
      client_config: { allowed_origins: null, max_request_body_size_mb: null, header_filter_config: null },
    })
    expect(put.status, JSON.stringify(put.body)).toBe(200)
    const { body } = await call(h, 'GET', '/api/config')
    expect(body.client_config).toMatchObject({
      max_request_body_size_mb: 50,
      allowed_origins: ['*', 'https://app.example.com'],
    })
  })

  it("accepts a key alias in Bifrost's object form through the provider API", async () => {
    const res = await call(h, 'POST', '/api/providers', {
      provider: 'mistral',
      keys: [
        {
          name: 'm',
          value: 'sk-mistral',
          models: ['*'],
          weight: 1,
          aliases: { big: { model_id: 'mistral-large-latest', model_name: 'mistral-large' } },
        },
      ],
    })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.keys[0].aliases).toEqual({
      big: { model_id: 'mistral-large-latest', model_name: 'mistral-large' },
    })
  })
})
