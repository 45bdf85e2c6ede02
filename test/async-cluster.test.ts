import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { computeCost } from '../src/governance/pricing/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import {
  alive,
  build,
  fakeOpenAIConfig,
  startNodeWithConfig,
  stopNodes,
  type RunningCli,
} from './helpers/cli.js'
import { postgresBackend } from './helpers/databases.js'
import { timeUntil } from './helpers/fault-proxy.js'
import { callJson, fakeProvider, startHeimdall } from './helpers/heimdall.js'
import { deleteRedisKeys, REDIS_URL, redisPrefix } from './helpers/redis.js'
import { killOwnRedises, startOwnRedis, type OwnRedis } from './helpers/redis-server.js'

/**
 * Async jobs on three Heimdall processes sharing one PostgreSQL database and one redis-server of
 * this test's own (BullMQ's queue): a job accepted by one node runs on whichever node takes it;
 * that node is killed (SIGKILL) mid-call, another node takes the job over once its lock expires,
 * and the job finishes exactly once, charged once.
 */

const LOCK_MS = 2000
const RESERVATION_TTL_S = 3
const backend = postgresBackend('async_cluster')
let fake: FakeServer | undefined
let redis: OwnRedis | undefined
const nodes: RunningCli[] = []
const urls: string[] = []
const dirs: string[] = []

afterAll(async () => {
  await stopNodes(nodes, dirs)
  await fake?.close()
  await redis?.stop()
  await killOwnRedises()
  await backend.teardown()
}, 30_000)

/** Whether a node logged a line with this message about this job. */
function logged(node: RunningCli, job: string, msg: string): boolean {
  return node
    .output()
    .split('\n')
    .some((line) => line.includes(job) && line.includes(msg))
}

describe('async jobs on three nodes (child processes), BullMQ on Redis', () => {
  it('start on one database and one redis-server of their own', async () => {
    build()
    fake = await startFakeOpenAI()
    redis = await startOwnRedis()
    const dbUrl = await backend.freshUrl()
    const queueName = `async-cluster-${process.pid}-${Date.now()}`
    // One at a time: the first runs the migrations.
    for (let i = 0; i < 3; i++) {
      const config = {
        config_store: { enabled: true, type: 'postgres', config: { connection_string: dbUrl } },
        cluster: { redis_url: redis.url, prefix: 'async:', reservation_ttl_seconds: RESERVATION_TTL_S },
        async_jobs: { queue_name: queueName, lock_duration_ms: LOCK_MS, concurrency: 4 },
        client: { enforce_auth_on_inference: true },
        providers: { openai: fakeOpenAIConfig(fake.url) },
      }
      const { node, url } = await startNodeWithConfig(config, `async-${i}`, dirs)
      nodes.push(node)
      urls.push(url)
    }
  }, 180_000)

  it('a node killed mid-job: another node finishes it, exactly once, charged once', async () => {
    const created = await callJson(urls[0], 'POST', '/api/governance/virtual-keys', {
      name: 'async-killed-node',
      provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
      budgets: [{ max_limit: 100, reset_duration: '1h' }],
      rate_limit: { request_max_limit: 100, request_reset_duration: '1h' },
    })
    expect(created.status, JSON.stringify(created.body)).toBe(200)
    const vk = created.body.virtual_key
    for (const url of urls)
      await timeUntil(
        async () => (await callJson(url, 'GET', `/api/governance/virtual-keys/${vk.id}`)).status === 200,
        5000,
      )
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${vk.value}` }

    // The provider holds the first call long enough to kill the node making it.
    fake!.latencyMs = 30_000
    const accepted = await fetch(`${urls[0]}/v1/async/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'survive a dead node' }],
      }),
    })
    expect(accepted.status).toBe(202)
    const job = ((await accepted.json()) as { id: string }).id
    await timeUntil(
      async () => fake!.requests.some((r) => r.body?.messages?.[0]?.content === 'survive a dead node'),
      10_000,
    )
    await timeUntil(() => nodes.some((n) => logged(n, job, 'async job started')), 5000)
    const runner = nodes.findIndex((n) => logged(n, job, 'async job started'))
    expect(runner).toBeGreaterThanOrEqual(0)
    nodes[runner].proc.kill('SIGKILL')
    await nodes[runner].exited
    const killedAt = Date.now()
    fake!.latencyMs = 0

    const survivor = urls[(runner + 1) % 3]
    let done: any
    for (let i = 0; i < 300 && !done; i++) {
      const r = await fetch(`${survivor}/v1/async/chat/completions/${job}`, { headers: auth })
      if (r.status === 200) done = await r.json()
      else {
        expect(r.status).toBe(202)
        await sleep(50)
      }
    }
    expect(done, 'the job finished on another node').toBeDefined()
    const takeoverMs = Date.now() - killedAt
    expect(done.status).toBe('completed')
    expect(done.result.object).toBe('chat.completion')
    // Two calls reached the provider (the dead node's, cut, and the rerun); one outcome was recorded,
    // by a node still alive.
    expect(
      fake!.requests.filter((r) => r.body?.messages?.[0]?.content === 'survive a dead node'),
    ).toHaveLength(2)
    // The outcome is written before its log line: wait for the line, then check no other node wrote one.
    const finished = (n: RunningCli) =>
      logged(n, job, 'async job finished') && logged(n, job, '"recorded":true')
    await timeUntil(() => nodes.some(finished), 5000)
    await sleep(200)
    const finishers = nodes.filter(finished)
    expect(finishers).toHaveLength(1)
    expect(alive(finishers[0])).toBe(true)

    // Charged once: the dead node's hold expires unsettled; the budget holds one call's cost, the limit one request.
    await sleep(RESERVATION_TTL_S * 1000 + 500)
    const cost = computeCost('openai', 'gpt-4o-mini', done.result.usage).cost
    const read = await callJson(survivor, 'GET', `/api/governance/virtual-keys/${vk.id}`)
    expect(read.body.virtual_key.budgets[0].current_usage).toBeCloseTo(cost, 10)
    expect(read.body.virtual_key.rate_limit.request_current_usage).toBe(1)
    console.log(
      `async-cluster: node ${runner} killed mid-job; another node finished it ${takeoverMs} ms later (lock ${LOCK_MS} ms)`,
    )
  }, 60_000)
})

describe('shutdown with BullMQ', () => {
  it('the running job finishes within the grace period; the waiting one stays in the queue for the next node', async () => {
    fake ??= await startFakeOpenAI()
    const prefix = redisPrefix('heimdall-async-shutdown')
    const appDir = await mkdtemp(join(tmpdir(), 'heimdall-async-bull-'))
    dirs.push(appDir)
    const config = {
      providers: { openai: fakeProvider(fake.url) },
      cluster: { redis_url: REDIS_URL, prefix },
      async_jobs: { queue_name: 'shutdown', concurrency: 1 },
      client: { shutdown_timeout_seconds: 5 },
    } as never
    let node = await startHeimdall(config, { appDir })
    try {
      const submit = async (content: string) => {
        const res = await fetch(`${node.url}/v1/async/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }] }),
        })
        expect(res.status).toBe(202)
        return ((await res.json()) as { id: string }).id
      }
      const state = async (id: string) =>
        ((await (await fetch(`${node.url}/v1/async/chat/completions/${id}`)).json()) as { status: string })
          .status
      fake.latencyMs = 400
      const running = await submit('bull running at shutdown')
      const waiting = await submit('bull waiting at shutdown')
      await timeUntil(async () => (await state(running)) === 'processing', 5000)
      expect(await state(waiting)).toBe('pending')
      await node.close()
      fake.latencyMs = 0
      const calls = (content: string) =>
        fake!.requests.filter((r) => r.body?.messages?.[0]?.content === content)
      expect(calls('bull waiting at shutdown')).toHaveLength(0)
      node = await startHeimdall(config, { appDir })
      expect(await state(running)).toBe('completed')
      await timeUntil(async () => (await state(waiting)) === 'completed', 10_000)
      expect(calls('bull running at shutdown')).toHaveLength(1)
      expect(calls('bull waiting at shutdown')).toHaveLength(1)
    } finally {
      fake.latencyMs = 0
      await node.close()
      await deleteRedisKeys(prefix)
    }
  }, 30_000)
})
