import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, readSse, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'

interface Sample {
  labels?: Record<string, string>
  value?: string
  buckets?: Record<string, string>
  count?: string
  sum?: string
}
interface Family {
  name: string
  type: string
  metrics: Sample[]
}

async function scrape(
  gw: RunningHeimdall,
  headers: Record<string, string> = {},
): Promise<Map<string, Family>> {
  const res = await fetch(`${gw.url}/metrics`, { headers })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toContain('text/plain')
  // The parser drops the labels of labelled histograms; read their series as plain samples
  // (`name_count`, `name_bucket` ...) and keep the declared type aside.
  const text = await res.text()
  const histograms = new Set([...text.matchAll(/^# TYPE (\S+) histogram$/gm)].map((m) => m[1]))
  const families = parsePrometheusTextFormat(
    text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped'),
  ) as Family[]
  // Series of one histogram interleave (`_bucket`, `_sum`, `_count` per label set): merge them by name.
  const byName = new Map<string, Family>()
  for (const f of families) {
    const seen = byName.get(f.name)
    if (seen) seen.metrics.push(...f.metrics)
    else byName.set(f.name, { ...f, metrics: [...f.metrics] })
  }
  for (const h of histograms)
    byName.set(h, { name: h, type: 'HISTOGRAM', metrics: byName.get(`${h}_count`)?.metrics ?? [] })
  return byName
}

/** Sum of a counter's samples (or a histogram's counts) whose labels include `match`. */
function total(families: Map<string, Family>, name: string, match: Record<string, string> = {}): number {
  const family = families.get(name)
  if (!family) return 0
  return family.metrics
    .filter((m) => Object.entries(match).every(([k, v]) => m.labels?.[k] === v))
    .reduce((sum, m) => sum + Number(m.value ?? m.count ?? 0), 0)
}

const chat = (gw: RunningHeimdall, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hello there' }], ...body }),
  })

describe('Prometheus metrics', () => {
  let primary: FakeServer
  let backup: FakeServer
  let gw: RunningHeimdall

  beforeAll(async () => {
    primary = await startFakeOpenAI()
    backup = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: {
        openai: fakeProvider(primary.url, { network_config: { max_retries: 1 } }),
        groq: fakeProvider(backup.url),
      },
    })
  })
  afterAll(async () => {
    await gw.close()
    await primary.close()
    await backup.close()
  })

  it('counts requests, tokens, attempts, retries, fallbacks and rejections as they were sent', async () => {
    const before = await scrape(gw)
    const base = (name: string, match: Record<string, string> = {}) => total(before, name, match)

    // Two plain successes.
    let inputTokens = 0
    let outputTokens = 0
    for (let i = 0; i < 2; i++) {
      const res = await chat(gw, { model: 'openai/gpt-4o-mini' })
      expect(res.status).toBe(200)
      const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }
      inputTokens += body.usage.prompt_tokens
      outputTokens += body.usage.completion_tokens
    }
    // One stream, with usage in its last chunk.
    const streamed = await chat(gw, {
      model: 'openai/gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
    })
    expect(streamed.status).toBe(200)
    const frames = await readSse(streamed)
    const usageFrame = frames
      .filter((f) => f.data !== '[DONE]')
      .map((f) => JSON.parse(f.data) as { usage?: { prompt_tokens: number; completion_tokens: number } })
      .find((c) => c.usage)
    expect(usageFrame?.usage).toBeDefined()
    inputTokens += usageFrame!.usage!.prompt_tokens
    outputTokens += usageFrame!.usage!.completion_tokens
    // One 500 then a success: a retry on the same target.
    primary.fail({ kind: 'status', status: 500 })
    expect((await chat(gw, { model: 'openai/gpt-4o-mini' })).status).toBe(200)
    // The primary fails (two attempts) and the fallback serves.
    primary.fail({ kind: 'status', status: 500 }, { kind: 'status', status: 500 })
    const fellBack = await chat(gw, { model: 'openai/gpt-4o-mini', fallbacks: ['groq/llama-3.1-8b-instant'] })
    expect(fellBack.status).toBe(200)
    // A 400 from the provider: an error, no retry.
    primary.fail({
      kind: 'status',
      status: 400,
      body: JSON.stringify({
        error: { message: 'bad', type: 'invalid_request_error', param: null, code: null },
      }),
    })
    expect((await chat(gw, { model: 'openai/gpt-4o-mini' })).status).toBe(400)

    // A virtual key allowed one request: the second is refused.
    const created = await fetch(`${gw.url}/api/governance/virtual-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'metered',
        rate_limit: { request_max_limit: 1, request_reset_duration: '1h' },
        provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
      }),
    })
    expect(created.status).toBe(200)
    const vk = ((await created.json()) as { virtual_key: { value: string } }).virtual_key.value
    expect((await chat(gw, { model: 'openai/gpt-4o-mini' }, { 'x-bf-vk': vk })).status).toBe(200)
    expect((await chat(gw, { model: 'openai/gpt-4o-mini' }, { 'x-bf-vk': vk })).status).toBe(429)

    const after = await scrape(gw)
    const delta = (name: string, match: Record<string, string> = {}) =>
      total(after, name, match) - base(name, match)
    const route = '/v1/chat/completions'

    // 2 + stream + retry + fallback + vk success = 6 successes; the 400 and the 429 are errors.
    expect(delta('heimdall_requests_total', { route, status_class: '2xx' })).toBe(6)
    expect(delta('heimdall_requests_total', { route, status_class: '4xx' })).toBe(2)
    expect(
      delta('heimdall_requests_total', { provider: 'openai', model: 'gpt-4o-mini', status_class: '2xx' }),
    ).toBe(5)
    expect(delta('heimdall_requests_total', { provider: 'groq', status_class: '2xx' })).toBe(1)
    expect(delta('heimdall_request_duration_seconds', { route })).toBe(8)
    expect(delta('heimdall_time_to_first_token_seconds', { provider: 'openai' })).toBe(1)
    expect(delta('heimdall_governance_rejections_total', { reason: 'request_limited' })).toBe(1)
    expect(delta('heimdall_errors_total', { code: 'request_limited' })).toBe(1)
    expect(delta('heimdall_errors_total')).toBe(2)
    // Attempts: 2 + 1 + 2 (retry) + 3 (two failed, one fallback) + 1 (400) + 1 (vk) = 10; none for the refusal.
    expect(delta('heimdall_upstream_attempts_total')).toBe(10)
    expect(delta('heimdall_upstream_attempts_total', { outcome: 'error' })).toBe(4)
    expect(delta('heimdall_upstream_latency_seconds')).toBe(10)
    expect(delta('heimdall_retries_total', { provider: 'openai' })).toBe(2)
    expect(delta('heimdall_fallbacks_total', { provider: 'groq' })).toBe(1)
    // Tokens of the first three requests at least (the others echo the same prompt).
    expect(delta('heimdall_input_tokens_total', { provider: 'openai' })).toBeGreaterThanOrEqual(inputTokens)
    expect(delta('heimdall_output_tokens_total', { provider: 'openai' })).toBeGreaterThanOrEqual(outputTokens)
    expect(delta('heimdall_input_tokens_total', { provider: 'groq' })).toBeGreaterThan(0)
    // gpt-4o-mini is priced: governance charged it; the fallback's request had no virtual key and
    // is priced all the same.
    expect(delta('heimdall_cost_usd_total', { provider: 'openai', model: 'gpt-4o-mini' })).toBeGreaterThan(0)
    expect(delta('heimdall_cost_usd_total', { provider: 'groq' })).toBeGreaterThan(0)

    // The log queue and the process are there too.
    expect(after.get('heimdall_log_queue_depth')?.type).toBe('GAUGE')
    expect(after.get('heimdall_log_queue_dropped_total')?.type).toBe('COUNTER')
    expect(after.has('process_cpu_user_seconds_total')).toBe(true)
    expect(after.has('nodejs_eventloop_lag_seconds')).toBe(true)
  })

  it('keeps the label set bounded when callers send many model names', async () => {
    for (let i = 0; i < 25; i++)
      expect((await chat(gw, { model: `openai/made-up-model-${i}` })).status).toBe(200)
    // Dated snapshots fold into the model they name.
    expect((await chat(gw, { model: 'openai/gpt-4o-mini-2024-07-18' })).status).toBe(200)
    const families = await scrape(gw)
    const models = new Set(families.get('heimdall_requests_total')!.metrics.map((m) => m.labels?.model))
    expect([...models].some((m) => m?.startsWith('made-up-model'))).toBe(false)
    expect(models.has('other')).toBe(true)
    expect(models.has('gpt-4o-mini-2024-07-18')).toBe(false)
    expect(total(families, 'heimdall_requests_total', { provider: 'openai', model: 'other' })).toBe(25)
    // No per-key label unless asked.
    expect(
      families.get('heimdall_requests_total')!.metrics.every((m) => !('virtual_key' in (m.labels ?? {}))),
    ).toBe(true)
  })

  it('puts the overhead header on every /v1 response: JSON, streams, errors and the model list', async () => {
    const overhead = (res: Response) => {
      const v = res.headers.get('x-heimdall-overhead-ms')
      expect(v, res.url).toMatch(/^-?\d+\.\d{3}$/)
      return Number(v)
    }
    const json = await chat(gw, { model: 'openai/gpt-4o-mini' })
    expect(overhead(json)).toBeGreaterThanOrEqual(0)
    const stream = await chat(gw, { model: 'openai/gpt-4o-mini', stream: true })
    expect(overhead(stream)).toBeGreaterThanOrEqual(0)
    await stream.text()
    primary.fail({
      kind: 'status',
      status: 400,
      body: JSON.stringify({ error: { message: 'no', type: 'x' } }),
    })
    const failed = await chat(gw, { model: 'openai/gpt-4o-mini' })
    expect(failed.status).toBe(400)
    overhead(failed)
    const unknown = await chat(gw, { model: 'nowhere/some-model' })
    expect(unknown.status).toBe(400)
    overhead(unknown)
    const embeddings = await fetch(`${gw.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/text-embedding-3-small', input: 'hi' }),
    })
    expect(embeddings.status).toBe(200)
    overhead(embeddings)
    const models = await fetch(`${gw.url}/v1/models`)
    expect(models.status).toBe(200)
    overhead(models)
  })
})

describe('Prometheus metrics with admin auth and opt-in labels', () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  let other: RunningHeimdall

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    gw = await startHeimdall({
      providers: { openai: fakeProvider(fake.url) },
      auth_config: { is_enabled: true, admin_username: 'admin', admin_password: 'secret-pass' },
      plugins: [{ name: 'telemetry', enabled: true, config: { virtual_key_labels: true } }],
    })
    // A second instance in the same process keeps its own registry.
    other = await startHeimdall({ providers: { openai: fakeProvider(fake.url) } })
  })
  afterAll(async () => {
    await gw.close()
    await other.close()
    await fake.close()
  })

  const basic = { authorization: `Basic ${Buffer.from('admin:secret-pass').toString('base64')}` }

  it('asks for the admin credentials, as Bifrost does, and labels requests by virtual key when asked', async () => {
    const refused = await fetch(`${gw.url}/metrics`)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toContain('Basic')
    const wrong = await fetch(`${gw.url}/metrics`, {
      headers: { authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` },
    })
    expect(wrong.status).toBe(401)

    expect((await chat(gw, { model: 'openai/gpt-4o-mini' })).status).toBe(200)
    const families = await scrape(gw, basic)
    expect(total(families, 'heimdall_requests_total', { virtual_key: 'none', status_class: '2xx' })).toBe(1)
    // The other instance saw nothing of it.
    expect(total(await scrape(other), 'heimdall_requests_total')).toBe(0)
  })
})
