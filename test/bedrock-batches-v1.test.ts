import OpenAI, { toFile } from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeBedrockJobs, type FakeBedrockJobs } from './fakes/bedrock-jobs.js'
import { fakeBedrockProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

const UPSTREAM = { accessKeyId: 'AKIAUPSTREAM', secretAccessKey: 'upstream-secret' }
const BEDROCK = { query: { provider: 'bedrock' } }

/** Bifrost's batch fields for Bedrock, which OpenAI's SDK does not type. */
const BATCH = {
  input_file_id: 's3://in-bucket/records.jsonl',
  endpoint: '/v1/chat/completions',
  completion_window: '24h',
  model: 'bedrock/anthropic.claude-3-haiku-20240307-v1:0',
  role_arn: 'arn:aws:iam::123456789012:role/BedrockBatch',
  output_s3_uri: 's3://out-bucket/results/',
} as unknown as OpenAI.BatchCreateParams

describe('/v1/batches with provider bedrock: Bedrock batch inference (model invocation jobs)', () => {
  let fake: FakeBedrockJobs
  let gw: RunningHeimdall
  let client: OpenAI

  beforeAll(async () => {
    fake = await startFakeBedrockJobs([UPSTREAM])
    gw = await startHeimdall({
      providers: {
        bedrock: fakeBedrockProvider(fake.url, UPSTREAM, 'us-west-2'),
      },
    })
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw.close()
    await fake.close()
  })

  it('creates a job from an S3 input file, reads, lists and cancels it in Bifrost batch shapes', async () => {
    const batch = await client.batches.create(BATCH)
    expect(batch.id).toMatch(/^arn:aws:bedrock:us-west-2:123456789012:model-invocation-job\/\w+$/)
    expect(batch).toMatchObject({ object: 'batch', status: 'validating', input_file_id: BATCH.input_file_id })
    const sent = fake.server.requests.find((r) => r.method === 'POST')!.body
    expect(sent).toMatchObject({
      roleArn: 'arn:aws:iam::123456789012:role/BedrockBatch',
      modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
      inputDataConfig: {
        s3InputDataConfig: { s3Uri: 's3://in-bucket/records.jsonl', s3InputFormat: 'JSONL' },
      },
      outputDataConfig: { s3OutputDataConfig: { s3Uri: 's3://out-bucket/results/' } },
      timeoutDurationInHours: 24,
    })

    const got = await client.batches.retrieve(batch.id, BEDROCK)
    expect(got).toMatchObject({
      id: batch.id,
      status: 'validating',
      output_file_id: 's3://out-bucket/results/',
    })
    const list = await client.batches.list({ provider: 'bedrock' } as OpenAI.BatchListParams)
    expect(list.data.map((b) => b.id)).toContain(batch.id)
    const cancelled = await client.batches.cancel(batch.id, BEDROCK)
    expect(cancelled).toMatchObject({ id: batch.id, status: 'cancelling' })
  })

  it('refuses with a 400 saying why what needs S3: uploads, inline requests, a non-S3 input, results', async () => {
    const upload = client.files.create({
      file: await toFile(Buffer.from('{}\n'), 'in.jsonl'),
      purpose: 'batch',
      // @ts-expect-error: Bifrost's provider field
      provider: 'bedrock',
    })
    await expect(upload).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/S3/) })
    const inline = client.batches.create({
      ...BATCH,
      input_file_id: undefined,
      requests: [{ custom_id: 'a', body: {} }],
    } as unknown as OpenAI.BatchCreateParams)
    await expect(inline).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/S3/) })
    const notS3 = client.batches.create({ ...BATCH, input_file_id: 'file-abc' })
    await expect(notS3).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/s3:\/\//) })
    const noRole = client.batches.create({
      ...BATCH,
      role_arn: undefined,
    } as unknown as OpenAI.BatchCreateParams)
    await expect(noRole).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/role_arn/) })
    const results = await fetch(`${gw.url}/v1/batches/some-job/results?provider=bedrock`)
    expect(results.status).toBe(400)
    expect(((await results.json()) as { error: { message: string } }).error.message).toMatch(/S3/)
  })
})
