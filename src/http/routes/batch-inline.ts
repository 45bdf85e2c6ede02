import { randomBytes } from 'node:crypto'
import { GatewayError } from '../../core/errors.js'
import { callOpenAIFilesApi } from '../../providers/index.js'
import type { Attempt } from '../../core/provider-adapter.js'
import type { ObjectScope } from './file-ownership.js'

/** OpenAI's batch window, the only one it offers; Bifrost's callers often leave it out with inline requests. */
const DEFAULT_COMPLETION_WINDOW = '24h'

/** The provider's kind: Anthropic and Gemini take inline requests themselves, Bedrock and Gemini need a model. */
function kindOf(a: Attempt): string {
  const cfg = a.provider
  return cfg.custom_provider_config?.base_provider_type ?? cfg.name
}

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param, retryable: false })
}

/**
 * Bifrost's inline `requests` (`{custom_id, method?, url?, body | params}`) as the lines of an
 * OpenAI batch input file; method defaults to POST and url to the batch's endpoint.
 */
export function requestsToJsonl(requests: unknown[], endpoint: string): string {
  return requests
    .map((item, i) => {
      const r = item as Record<string, unknown> | null
      if (r === null || typeof r !== 'object' || Array.isArray(r))
        throw invalid(`requests[${i}] must be an object`, `requests[${i}]`)
      if (typeof r.custom_id !== 'string' || !r.custom_id)
        throw invalid(`requests[${i}].custom_id is required`, `requests[${i}].custom_id`)
      const body = r.body ?? r.params
      if (body === null || typeof body !== 'object' || Array.isArray(body))
        throw invalid(`requests[${i}].body is required: the request's JSON body`, `requests[${i}].body`)
      const method = typeof r.method === 'string' && r.method ? r.method : 'POST'
      const url = typeof r.url === 'string' && r.url ? r.url : endpoint
      return JSON.stringify({ custom_id: r.custom_id, method, url, body }) + '\n'
    })
    .join('')
}

/** A multipart body with `purpose=batch` and the JSONL as its file, as OpenAI's upload takes it. */
function jsonlUpload(jsonl: string): { body: string; contentType: string } {
  const boundary = `heimdall-${randomBytes(12).toString('hex')}`
  const body =
    `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="batch_requests.jsonl"\r\n` +
    `Content-Type: application/jsonl\r\n\r\n${jsonl}\r\n--${boundary}--\r\n`
  return { body, contentType: `multipart/form-data; boundary=${boundary}` }
}

/**
 * The batch body to send upstream. With inline `requests` (and no `input_file_id`), as Bifrost
 * does for OpenAI-format providers: the requests become a JSONL file uploaded with purpose
 * `batch` (recorded for the caller's key), and the batch is created from it. Providers that take
 * inline requests themselves get the body unchanged; Bedrock's gets the model it runs.
 */
export async function batchBodyFor(
  a: Attempt,
  scope: ObjectScope,
  body: Record<string, unknown>,
  model?: unknown,
): Promise<Record<string, unknown>> {
  const kind = kindOf(a)
  // Bedrock's and Gemini's batches run one model: the one named by `model` ("bedrock/<model id>").
  if (kind === 'bedrock' || kind === 'gemini')
    return typeof model === 'string' ? { ...body, model: model.slice(model.indexOf('/') + 1) } : body
  const { requests, ...rest } = body
  if (requests === undefined || kind === 'anthropic') return body
  if (!Array.isArray(requests) || requests.length === 0)
    throw invalid('requests must be a non-empty array', 'requests')
  if (rest.input_file_id !== undefined)
    throw invalid('give either input_file_id or requests, not both', 'input_file_id')
  const firstUrl = (requests[0] as { url?: unknown } | null)?.url
  const endpoint = typeof rest.endpoint === 'string' && rest.endpoint ? rest.endpoint : firstUrl
  if (typeof endpoint !== 'string' || !endpoint)
    throw invalid('endpoint is required (e.g. /v1/chat/completions)', 'endpoint')
  const upload = jsonlUpload(requestsToJsonl(requests, endpoint))
  const file = await callOpenAIFilesApi<{ id?: unknown }>(a, {
    method: 'POST',
    path: '/files',
    body: upload.body,
    contentType: upload.contentType,
  })
  const id = file.body?.id
  if (typeof id !== 'string' || !id) {
    throw new GatewayError(
      'upstream_bad_response',
      `${a.provider.name} answered the upload without a file id`,
    )
  }
  await scope.created('file', id)
  return {
    ...rest,
    input_file_id: id,
    endpoint,
    completion_window: rest.completion_window ?? DEFAULT_COMPLETION_WINDOW,
  }
}
