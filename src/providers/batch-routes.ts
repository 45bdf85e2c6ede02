import { GatewayError } from '../core/errors.js'
import type { FilesCall, JsonResult } from '../core/provider-adapter.js'

/** A provider's own batch jobs (Bedrock's invocation jobs, Gemini's batches), as OpenAI's batches API sees them. */
export interface BatchJobs {
  /** `/files...` calls: served some other way, or refused. */
  files(call: FilesCall): Promise<JsonResult<unknown>>
  create(body: string): Promise<JsonResult<unknown>>
  list(query: Record<string, string> | undefined): Promise<JsonResult<unknown>>
  get(id: string): Promise<JsonResult<unknown>>
  /** Asks for the job to stop; the caller then gets the batch as it is. */
  cancel(id: string): Promise<unknown>
}

/** The batch id of a `/batches/{id}` path (one encoded segment). */
function batchIdOf(path: string): string {
  return decodeURIComponent(path.split('/')[2] ?? '')
}

/**
 * One OpenAI-shaped files or batches call of the `/v1` routes served by `jobs`: `POST /batches`,
 * `GET /batches`, `GET /batches/{id}`, `POST /batches/{id}/cancel`; anything else is refused.
 */
export async function serveBatchCall<T>(
  provider: string,
  call: FilesCall,
  jobs: BatchJobs,
): Promise<JsonResult<T>> {
  const { method, path } = call
  let result: JsonResult<unknown>
  if (path.startsWith('/files')) {
    result = await jobs.files(call)
  } else if (method === 'POST' && path === '/batches') {
    result = await jobs.create(typeof call.body === 'string' ? call.body : '{}')
  } else if (method === 'GET' && path === '/batches') {
    result = await jobs.list(call.query)
  } else if (method === 'GET' && /^\/batches\/[^/]+$/.test(path)) {
    result = await jobs.get(batchIdOf(path))
  } else if (method === 'POST' && /^\/batches\/[^/]+\/cancel$/.test(path)) {
    const id = batchIdOf(path)
    await jobs.cancel(id)
    result = await jobs.get(id)
  } else {
    throw new GatewayError('unsupported_operation', `provider ${provider} does not serve ${method} ${path}`, {
      retryable: false,
    })
  }
  return result as JsonResult<T>
}
