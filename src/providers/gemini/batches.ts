import { GatewayError } from '../../core/errors.js'
import { pathSegment } from '../../core/path-segment.js'
import type { BatchResultItem } from '../../core/schemas/files.js'
import type { ChatRequest } from '../../core/schemas/index.js'
import { controlAnswer, parseJsonBody, sendUpstream } from '../http.js'
import type { Attempt, BatchResults, FilesCall, JsonResult } from '../../core/provider-adapter.js'
import { geminiError } from './errors.js'
import { callGeminiFiles } from './openai-files.js'
import { toGeminiRequest } from './request.js'
import { fromGeminiResponse, type GeminiResponse } from './response.js'
import { serveBatchCall } from '../batch-routes.js'

/**
 * OpenAI's files and batches calls on `/v1` (`provider: gemini`): files by Gemini's Files API
 * (openai-files.ts), batches by its Batch API
 * (`models/{model}:batchGenerateContent`, `batches/{id}`), in Bifrost's shapes: a batch is created
 * from Bifrost's inline `requests` (each an OpenAI chat body, translated) or from a Gemini file
 * (`input_file_id` `files/{id}`); its id is Google's operation name (`batches/{id}`); its results
 * are the inline responses as OpenAI chat completions, keyed by `custom_id`.
 */

const DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com'

export function isGeminiProvider(cfg: Attempt['provider']): boolean {
  return (cfg.custom_provider_config?.base_provider_type ?? cfg.name) === 'gemini'
}

function refused(message: string, param?: string): GatewayError {
  return new GatewayError('unsupported_operation', message, { param, retryable: false })
}

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param, retryable: false })
}

/** `{base}` without a trailing `/v1beta`. */
function hostRoot(a: Attempt): string {
  let url = a.provider.network_config.base_url || DEFAULT_BASE_URL
  while (url.endsWith('/')) url = url.slice(0, -1)
  return url.replace(/\/v1(beta\d*)?$/, '')
}

async function call<T>(
  a: Attempt,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<JsonResult<T>> {
  const name = a.provider.name
  const headers: Record<string, string> = { ...a.extraHeaders }
  if (a.secret) headers['x-goog-api-key'] = a.secret
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await sendUpstream(
    a,
    { url: hostRoot(a) + path, method, headers, body: body === undefined ? undefined : JSON.stringify(body) },
    name,
  )
  return controlAnswer<T>(a, res, geminiError, ['x-goog-request-id'])
}

/** A batch as Google answers it: an operation whose metadata is the `GenerateContentBatch`. */
interface GeminiBatchOperation {
  name: string
  done?: boolean
  metadata?: GeminiBatch
  response?: GeminiBatchOutput
  error?: { message?: string }
}

interface GeminiBatch {
  name?: string
  model?: string
  displayName?: string
  state?: string
  createTime?: string
  updateTime?: string
  endTime?: string
  batchStats?: { requestCount?: string; successfulRequestCount?: string; failedRequestCount?: string }
  output?: GeminiBatchOutput
  inputConfig?: { fileName?: string }
}

interface GeminiBatchOutput {
  responsesFile?: string
  inlinedResponses?: { inlinedResponses?: GeminiInlinedResponse[] }
}

interface GeminiInlinedResponse {
  response?: GeminiResponse
  error?: { code?: number; message?: string }
  metadata?: { key?: string }
}

/** Google's batch state (`BATCH_STATE_*`, older `JOB_STATE_*`) as Bifrost's batch status. */
const STATUS: Record<string, string> = {
  PENDING: 'validating',
  RUNNING: 'in_progress',
  SUCCEEDED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  EXPIRED: 'expired',
}

function statusOf(state: string | undefined): string {
  const short = (state ?? '').replace(/^(BATCH|JOB)_STATE_/, '')
  return STATUS[short] ?? 'validating'
}

function unixOf(iso: string | undefined): number | undefined {
  const t = iso ? Date.parse(iso) : NaN
  return Number.isFinite(t) ? Math.floor(t / 1000) : undefined
}

function count(v: string | undefined): number {
  const n = Number(v)
  return Number.isFinite(n) ? n : 0
}

/** An operation as Bifrost's batch object (`operation_name`, `done` kept, as Bifrost does). */
function toBatch(op: GeminiBatchOperation): Record<string, unknown> {
  const b = op.metadata ?? {}
  const stats = b.batchStats ?? {}
  const failed = count(stats.failedRequestCount)
  const out: Record<string, unknown> = {
    id: op.name,
    object: 'batch',
    endpoint: '/v1/chat/completions',
    status: statusOf(b.state),
    created_at: unixOf(b.createTime) ?? 0,
    request_counts: {
      total: count(stats.requestCount),
      completed: count(stats.successfulRequestCount) + failed,
      failed,
    },
    operation_name: op.name,
    done: op.done === true,
  }
  if (b.model) out.model = b.model
  if (b.inputConfig?.fileName) out.input_file_id = b.inputConfig.fileName
  const responsesFile = (op.response ?? b.output)?.responsesFile
  if (responsesFile) out.output_file_id = responsesFile
  const ended = unixOf(b.endTime)
  if (ended !== undefined) out.completed_at = ended
  return out
}

/** Bifrost's inline requests (`{custom_id, body}` with an OpenAI chat body) as Gemini's inlined requests. */
function inlinedRequests(requests: unknown[]): { request: unknown; metadata: { key: string } }[] {
  return requests.map((item, i) => {
    const r = item as { custom_id?: unknown; body?: unknown; params?: unknown } | null
    if (r === null || typeof r !== 'object')
      throw invalid(`requests[${i}] must be an object`, `requests[${i}]`)
    if (typeof r.custom_id !== 'string' || !r.custom_id)
      throw invalid(`requests[${i}].custom_id is required`, `requests[${i}].custom_id`)
    const body = (r.body ?? r.params) as ChatRequest | undefined
    if (!body || typeof body !== 'object' || !Array.isArray(body.messages))
      throw invalid(`requests[${i}].body must be a chat completion body with messages`, `requests[${i}].body`)
    return { request: toGeminiRequest(body), metadata: { key: r.custom_id } }
  })
}

/** The model a batch runs: `model` ("gemini/<model>"), else the first request's body's. */
function batchModel(a: Attempt, body: Record<string, unknown>, requests: unknown[] | undefined): string {
  const first = (requests?.[0] as { body?: { model?: unknown } } | undefined)?.body?.model
  const named = typeof body.model === 'string' ? body.model : typeof first === 'string' ? first : undefined
  const model = named ? named.slice(named.indexOf('/') + 1) : a.model
  if (!model || model === '*')
    throw invalid('model is required for a Gemini batch, as "gemini/<model>"', 'model')
  return model.replace(/^models\//, '')
}

async function createBatch(a: Attempt, raw: string): Promise<JsonResult<Record<string, unknown>>> {
  const body = parseJsonBody<Record<string, unknown>>(a.provider.name, raw)
  const requests = Array.isArray(body.requests) ? body.requests : undefined
  const file = typeof body.input_file_id === 'string' && body.input_file_id ? body.input_file_id : undefined
  if (!requests === !file)
    throw invalid('give either input_file_id (a Gemini file, files/...) or requests', 'input_file_id')
  const model = batchModel(a, body, requests)
  const inputConfig = requests
    ? { requests: { requests: inlinedRequests(requests) } }
    : { fileName: file!.startsWith('files/') ? file : `files/${file}` }
  const created = await call<GeminiBatchOperation>(
    a,
    'POST',
    `/v1beta/models/${pathSegment(model, 'model')}:batchGenerateContent`,
    { batch: { displayName: `heimdall-batch-${Date.now()}`, inputConfig } },
  )
  return { body: toBatch(created.body), headers: created.headers }
}

/** `batches/{id}` or `{id}`: the id as one path segment. */
function batchPath(id: string, action = ''): string {
  return `/v1beta/batches/${pathSegment(id.replace(/^batches\//, ''), 'batch_id')}${action}`
}

async function getBatch(a: Attempt, id: string): Promise<JsonResult<Record<string, unknown>>> {
  const op = await call<GeminiBatchOperation>(a, 'GET', batchPath(id))
  return { body: toBatch(op.body), headers: op.headers }
}

async function listBatches(a: Attempt, query: Record<string, string> | undefined) {
  const q = new URLSearchParams()
  const limit = Number(query?.limit)
  if (limit > 0) q.set('pageSize', String(Math.min(limit, 100)))
  const page = await call<{ operations?: GeminiBatchOperation[]; nextPageToken?: string }>(
    a,
    'GET',
    `/v1beta/batches${q.size ? `?${q.toString()}` : ''}`,
  )
  const data = (page.body.operations ?? []).map(toBatch)
  return {
    body: { object: 'list', data, has_more: page.body.nextPageToken !== undefined },
    headers: page.headers,
  }
}

/** Google gives no download of the files a caller uploaded. */
export function refuseGeminiFiles(a: Attempt): Promise<never> {
  return Promise.reject(
    refused(
      `provider ${a.provider.name} gives no download of uploaded files (Gemini's Files API has none)`,
      'file_id',
    ),
  )
}

/** The OpenAI-shaped files and batches calls of the `/v1` routes, for a Gemini provider. */
export function callGeminiAsOpenAI<T>(a: Attempt, c: FilesCall): Promise<JsonResult<T>> {
  return serveBatchCall<T>(a.provider.name, c, {
    files: () => callGeminiFiles(a, c),
    create: (body) => createBatch(a, body),
    list: (query) => listBatches(a, query),
    get: (id) => getBatch(a, id),
    cancel: (id) => call(a, 'POST', batchPath(id, ':cancel')),
  })
}

/**
 * A finished batch's inline responses as Bifrost's results (each an OpenAI chat completion, or its
 * error). A batch whose responses went to a file is read from that file by Google's download API.
 */
export async function readGeminiBatchResults(a: Attempt, batchId: string): Promise<BatchResults> {
  const op = (await call<GeminiBatchOperation>(a, 'GET', batchPath(batchId))).body
  const output = op.response ?? op.metadata?.output
  if (!op.done || !output) {
    throw invalid(
      `batch ${batchId} has no results yet (state ${op.metadata?.state ?? 'unknown'})`,
      'batch_id',
    )
  }
  if (output.responsesFile) {
    throw refused(
      `the results of batch ${batchId} were written to ${output.responsesFile}, which the gateway does not read for Gemini; fetch it from Google's download API`,
    )
  }
  const model = (op.metadata?.model ?? '').replace(/^models\//, '')
  const results: BatchResultItem[] = (output.inlinedResponses?.inlinedResponses ?? []).map((r) => {
    const item: BatchResultItem = { custom_id: r.metadata?.key ?? '' }
    if (r.response) {
      const body = fromGeminiResponse(r.response, model, a.provider.name)
      item.response = { status_code: 200, body: body as unknown as Record<string, unknown> }
    } else {
      item.error = {
        code: String(r.error?.code ?? 'error'),
        message: r.error?.message ?? 'the request failed',
      }
    }
    return item
  })
  return { body: { batch_id: batchId, results } }
}
