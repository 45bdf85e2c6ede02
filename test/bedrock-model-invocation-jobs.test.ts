import { Sha256 } from '@aws-crypto/sha256-js'
import { SignatureV4 } from '@smithy/signature-v4'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeBedrockJobs, type FakeBedrockJobs } from './fakes/bedrock-jobs.js'
import type { ConfigFile } from '../src/core/schemas/index.js'
import {
  adminVirtualKey,
  fakeBedrockProvider,
  startHeimdall,
  type RunningHeimdall,
} from './helpers/heimdall.js'

/**
 * Bedrock batch inference through `/bedrock`: a caller signing its requests with SigV4 as the AWS
 * SDK does (@aws-sdk/client-bedrock is not installed, so the requests are signed here with the
 * same signer) creates, lists, reads and stops model invocation jobs on the Bedrock control plane,
 * which the gateway reaches with its own key's signature; AWS's answers and errors come back as AWS
 * sends them.
 */
const UPSTREAM = { accessKeyId: 'AKIAUPSTREAM', secretAccessKey: 'upstream-secret', sessionToken: 'tok' }
const CALLER = { accessKeyId: 'AKIACALLER', secretAccessKey: 'caller-secret' }
const JOB = {
  jobName: 'nightly-summaries',
  roleArn: 'arn:aws:iam::123456789012:role/BedrockBatch',
  modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
  inputDataConfig: { s3InputDataConfig: { s3Uri: 's3://in-bucket/records.jsonl' } },
  outputDataConfig: { s3OutputDataConfig: { s3Uri: 's3://out-bucket/' } },
}

/** The Bedrock provider on the fake control plane, with the gateway's own AWS key in us-west-2. */
const bedrockProvider = () => fakeBedrockProvider(fake.url, UPSTREAM, 'us-west-2')

let fake: FakeBedrockJobs
let gw: RunningHeimdall

/** A request signed by the caller's own credentials (which the gateway does not check), as the AWS SDK sends it. */
async function aws(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  query: Record<string, string> = {},
  extra: { base?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const url = new URL(`${extra.base ?? gw.url}${path}`)
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v)
  const text = body === undefined ? undefined : JSON.stringify(body)
  const signer = new SignatureV4({
    credentials: CALLER,
    region: 'us-west-2',
    service: 'bedrock',
    sha256: Sha256,
  })
  const signed = await signer.sign({
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query,
    headers: { host: url.host, ...(text !== undefined && { 'content-type': 'application/json' }) },
    body: text,
  })
  const { host: _host, ...headers } = signed.headers
  return fetch(url, { method, headers: { ...headers, ...extra.headers }, body: text })
}

beforeAll(async () => {
  fake = await startFakeBedrockJobs([UPSTREAM])
  gw = await startHeimdall({
    providers: {
      bedrock: bedrockProvider(),
    },
  })
})
afterAll(async () => {
  await gw?.close()
  await fake?.close()
})
beforeEach(() => fake.server.reset())

describe('/bedrock model invocation jobs', () => {
  it('creates a job, reads it by ARN, lists it, stops it, and refuses a second stop as AWS does', async () => {
    const created = await aws('POST', '/bedrock/model-invocation-job', JOB)
    expect(created.status).toBe(200)
    const { jobArn } = (await created.json()) as { jobArn: string }
    expect(jobArn).toMatch(/^arn:aws:bedrock:us-west-2:123456789012:model-invocation-job\/\w+$/)
    // The gateway signed with its own key, for the key's region.
    expect(String(fake.server.requests[0].headers.authorization)).toContain('AKIAUPSTREAM/')
    expect(fake.server.requests[0].body).toEqual(JOB)

    const encoded = encodeURIComponent(jobArn)
    const got = await aws('GET', `/bedrock/model-invocation-job/${encoded}`)
    expect(got.status).toBe(200)
    expect(await got.json()).toMatchObject({ jobArn, jobName: JOB.jobName, status: 'Submitted' })

    const listed = await aws('GET', '/bedrock/model-invocation-jobs', undefined, {
      statusEquals: 'Submitted',
      maxResults: '10',
    })
    expect(listed.status).toBe(200)
    const summaries = ((await listed.json()) as { invocationJobSummaries: { jobArn: string }[] })
      .invocationJobSummaries
    expect(summaries.map((j) => j.jobArn)).toContain(jobArn)

    const stopped = await aws('POST', `/bedrock/model-invocation-job/${encoded}/stop`)
    expect(stopped.status).toBe(200)
    const after = await aws('GET', `/bedrock/model-invocation-job/${encoded}`)
    expect(await after.json()).toMatchObject({ status: 'Stopping' })

    const again = await aws('POST', `/bedrock/model-invocation-job/${encoded}/stop`)
    expect(again.status).toBe(400)
    expect(again.headers.get('x-amzn-errortype')).toBe('ValidationException')
  })

  it('serves Bifrost’s plural paths too: POST /model-invocation-jobs, /model-invocation-jobs/{id} and its stop', async () => {
    const created = await aws('POST', '/bedrock/model-invocation-jobs', { ...JOB, jobName: 'plural' })
    expect(created.status).toBe(200)
    const { jobArn } = (await created.json()) as { jobArn: string }
    const got = await aws('GET', `/bedrock/model-invocation-jobs/${encodeURIComponent(jobArn)}`)
    expect(await got.json()).toMatchObject({ jobName: 'plural' })
    const stopped = await aws('POST', `/bedrock/model-invocation-jobs/${encodeURIComponent(jobArn)}/stop`)
    expect(stopped.status).toBe(200)
  })

  it('answers bad input with a ValidationException and an unknown job with AWS’s ResourceNotFoundException', async () => {
    const { roleArn: _roleArn, ...noRole } = JOB
    const refused = await aws('POST', '/bedrock/model-invocation-job', noRole)
    expect(refused.status).toBe(400)
    expect(refused.headers.get('x-amzn-errortype')).toBe('ValidationException')
    expect(((await refused.json()) as { message: string }).message).toContain('roleArn')
    const badMax = await aws('GET', '/bedrock/model-invocation-jobs', undefined, { maxResults: '0' })
    expect(badMax.status).toBe(400)
    expect(fake.server.requests).toHaveLength(0)

    const missing = await aws(
      'GET',
      `/bedrock/model-invocation-job/${encodeURIComponent('arn:aws:bedrock:us-west-2:123456789012:model-invocation-job/nope')}`,
    )
    expect(missing.status).toBe(404)
    expect(missing.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException')
    expect(((await missing.json()) as { message: string }).message).toContain('was not found')
  })
})

describe('model invocation jobs belong to the virtual key that created them', () => {
  const ADMIN = `Basic ${Buffer.from('admin:bedrock-jobs-password').toString('base64')}`
  let governed: RunningHeimdall

  const virtualKey = (name: string) => adminVirtualKey(governed.url, name, 'bedrock', ADMIN)

  beforeAll(async () => {
    governed = await startHeimdall({
      auth_config: { is_enabled: true, admin_username: 'admin', admin_password: 'bedrock-jobs-password' },
      providers: {
        bedrock: bedrockProvider(),
      },
    } as ConfigFile)
  })
  afterAll(() => governed?.close())

  it('another key neither lists, reads nor stops the job, by ARN or by job id', async () => {
    const as = (vk: string) => ({ base: governed.url, headers: { 'x-bf-vk': vk } })
    const [a, b] = [as(await virtualKey('jobs-a')), as(await virtualKey('jobs-b'))]
    const created = await aws('POST', '/bedrock/model-invocation-job', { ...JOB, jobName: 'owned' }, {}, a)
    const { jobArn } = (await created.json()) as { jobArn: string }
    const own = await aws('POST', '/bedrock/model-invocation-job', { ...JOB, jobName: 'other' }, {}, b)
    const { jobArn: ownArn } = (await own.json()) as { jobArn: string }

    const listed = await aws('GET', '/bedrock/model-invocation-jobs', undefined, {}, b)
    const arns = (
      (await listed.json()) as { invocationJobSummaries: { jobArn: string }[] }
    ).invocationJobSummaries.map((j) => j.jobArn)
    expect(arns).toContain(ownArn)
    expect(arns).not.toContain(jobArn)
    const jobId = jobArn.split('/').pop()!
    for (const identifier of [encodeURIComponent(jobArn), jobId]) {
      const got = await aws('GET', `/bedrock/model-invocation-job/${identifier}`, undefined, {}, b)
      expect(got.status).toBe(404)
      expect(got.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException')
      const stop = await aws('POST', `/bedrock/model-invocation-job/${identifier}/stop`, undefined, {}, b)
      expect(stop.status).toBe(404)
    }
    expect(fake.jobs.get(jobId)?.status).toBe('Submitted')
    const mine = await aws('GET', `/bedrock/model-invocation-job/${jobId}`, undefined, {}, a)
    expect(await mine.json()).toMatchObject({ jobArn, jobName: 'owned' })
  })
})
