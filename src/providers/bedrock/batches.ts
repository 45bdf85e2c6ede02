import { GatewayError } from '../../core/errors.js'
import { parseJsonBody } from '../http.js'
import type { Attempt, BatchResults, FilesCall, JsonResult } from '../../core/provider-adapter.js'
import { callBedrockControlPlane, jobPath } from './jobs.js'
import { listAfter } from '../list-after.js'
import { serveBatchCall } from '../batch-routes.js'

/**
 * OpenAI's batches calls on `/v1` (`provider: bedrock`) served by Bedrock batch inference (model
 * invocation jobs), in Bifrost's shapes and with Bifrost's fields: a batch reads an `s3://` input
 * file (`input_file_id`), writes to `output_s3_uri`, and runs as the IAM role `role_arn`. Bedrock
 * keeps a batch's input and output in S3, which the gateway does not read or write: uploads,
 * inline requests, file downloads and results are refused with a 400 that says so.
 */

const S3_ONLY =
  'Bedrock batch inference reads its input from and writes its output to S3, which Heimdall does not read or write'

export function isBedrockProvider(cfg: Attempt['provider']): boolean {
  return (cfg.custom_provider_config?.base_provider_type ?? cfg.name) === 'bedrock'
}

function refused(message: string, param?: string): GatewayError {
  return new GatewayError('unsupported_operation', message, { param, retryable: false })
}

interface BedrockJob {
  jobArn: string
  jobName?: string
  modelId?: string
  status?: string
  submitTime?: string
  endTime?: string
  jobExpirationTime?: string
  inputDataConfig?: { s3InputDataConfig?: { s3Uri?: string } }
  outputDataConfig?: { s3OutputDataConfig?: { s3Uri?: string } }
}

/** Bedrock's job status as Bifrost's batch status (`ToBifrostBatchStatus`). */
const STATUS: Record<string, string> = {
  Submitted: 'validating',
  Validating: 'validating',
  Scheduled: 'validating',
  InProgress: 'in_progress',
  Completed: 'completed',
  Failed: 'failed',
  PartiallyCompleted: 'failed',
  Stopping: 'cancelling',
  Stopped: 'cancelled',
  Expired: 'expired',
}

function unixOf(iso: string | undefined): number | undefined {
  const t = iso ? Date.parse(iso) : NaN
  return Number.isFinite(t) ? Math.floor(t / 1000) : undefined
}

/** A job as Bifrost's batch object: the ARN is its id, the S3 URIs its input and output files. */
function toBatch(job: BedrockJob): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: job.jobArn,
    object: 'batch',
    status: STATUS[job.status ?? ''] ?? job.status ?? 'validating',
    created_at: unixOf(job.submitTime) ?? 0,
  }
  const input = job.inputDataConfig?.s3InputDataConfig?.s3Uri
  if (input) out.input_file_id = input
  const output = job.outputDataConfig?.s3OutputDataConfig?.s3Uri
  if (output) out.output_file_id = output
  const completed = unixOf(job.endTime)
  if (completed !== undefined) out.completed_at = completed
  const expires = unixOf(job.jobExpirationTime)
  if (expires !== undefined) out.expires_at = expires
  if (job.modelId) out.model = job.modelId
  return out
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** `POST /batches`: CreateModelInvocationJob from Bifrost's fields, then the job as a batch. */
async function createBatch(a: Attempt, raw: string): Promise<JsonResult<Record<string, unknown>>> {
  const body = parseJsonBody<Record<string, unknown>>(a.provider.name, raw)
  if (body.requests !== undefined) {
    throw refused(
      `${S3_ONLY}: upload the requests as JSONL to S3 and give its s3:// URI as input_file_id`,
      'requests',
    )
  }
  const input = text(body.input_file_id)
  if (!input?.startsWith('s3://'))
    throw refused(`${S3_ONLY}: input_file_id must be the s3:// URI of the JSONL input`, 'input_file_id')
  const roleArn = text(body.role_arn)
  if (!roleArn)
    throw refused('role_arn is required for Bedrock batch inference (the IAM role it runs as)', 'role_arn')
  const output = text(body.output_s3_uri)
  if (!output?.startsWith('s3://'))
    throw refused(
      'output_s3_uri is required for Bedrock batch inference (an s3:// prefix for its results)',
      'output_s3_uri',
    )
  const modelId = text(body.model) ?? a.model
  if (!modelId || modelId === '*')
    throw refused('model is required for Bedrock batch inference, as "bedrock/<model id>"', 'model')
  const hours = /^(\d+)h$/.exec(text(body.completion_window) ?? '')?.[1]
  const request = {
    jobName: text(body.job_name) ?? `heimdall-batch-${Date.now()}`,
    roleArn,
    modelId,
    inputDataConfig: { s3InputDataConfig: { s3Uri: input, s3InputFormat: 'JSONL' } },
    outputDataConfig: { s3OutputDataConfig: { s3Uri: output } },
    ...(hours && { timeoutDurationInHours: Number(hours) }),
  }
  const created = await callBedrockControlPlane<{ jobArn: string }>(a, {
    method: 'POST',
    path: '/model-invocation-job',
    body: JSON.stringify(request),
  })
  const batch = toBatch({ ...request, jobArn: created.body.jobArn, status: 'Submitted' })
  batch.created_at = Math.floor(Date.now() / 1000)
  return { body: batch, headers: created.headers }
}

async function getBatch(a: Attempt, id: string): Promise<JsonResult<Record<string, unknown>>> {
  const job = await callBedrockControlPlane<BedrockJob>(a, { method: 'GET', path: jobPath(id) })
  return { body: toBatch(job.body), headers: job.headers }
}

/**
 * `GET /batches`: ListModelInvocationJobs. OpenAI's cursor is the last batch seen (`after`, a job
 * ARN) where Bedrock's is a page token, so a page after a job is read from the start of the list
 * until that job is passed (at most 20 pages of 1000).
 */
async function listBatches(
  a: Attempt,
  query: Record<string, string> | undefined,
): Promise<JsonResult<Record<string, unknown>>> {
  const limit = Math.min(Number(query?.limit) > 0 ? Number(query?.limit) : 20, 1000)
  return listAfter(
    limit,
    query?.after,
    async (token, passed) => {
      const q: Record<string, string> = { maxResults: String(passed ? limit : 1000) }
      if (token) q.nextToken = token
      const res = await callBedrockControlPlane<{
        invocationJobSummaries?: BedrockJob[]
        nextToken?: string
      }>(a, { method: 'GET', path: '/model-invocation-jobs', query: q })
      return { items: res.body.invocationJobSummaries ?? [], next: res.body.nextToken, headers: res.headers }
    },
    (job) => job.jobArn,
    toBatch,
  )
}

/** The OpenAI-shaped files and batches calls of the `/v1` routes, for a Bedrock provider. */
export function callBedrockAsOpenAI<T>(a: Attempt, call: FilesCall): Promise<JsonResult<T>> {
  return serveBatchCall<T>(a.provider.name, call, {
    files: () => refuseBedrockFiles(),
    create: (body) => createBatch(a, body),
    list: (query) => listBatches(a, query),
    get: (id) => getBatch(a, id),
    cancel: (id) => callBedrockControlPlane(a, { method: 'POST', path: jobPath(id, '/stop') }),
  })
}

/** A Bedrock batch's input and output files are S3 objects. */
export function refuseBedrockFiles(): Promise<never> {
  return Promise.reject(
    refused(`${S3_ONLY}: put batch input files in S3 and name them by their s3:// URI`, 'provider'),
  )
}

/** A Bedrock batch's results are in S3. */
export function refuseBedrockResults(): Promise<BatchResults> {
  return Promise.reject(refused(`${S3_ONLY}: read the batch's results from its output_s3_uri`))
}
