import { resolveSecret } from '../../core/config.js'
import { GatewayError } from '../../core/errors.js'
import { pathSegment } from '../../core/path-segment.js'
import type { BatchResultItem } from '../../core/schemas/files.js'
import type { ProviderConfig } from '../../core/schemas/index.js'
import { jsonAnswer, parseJsonBody, relayBytes, sendFilesCall, upstreamError } from '../http.js'
import type { UpstreamResponse } from '../http.js'
import { openAIBaseUrl, openAICompatibleSpec, type OpenAICompatibleSpec } from '../openai-compatible.js'
import type {
  Attempt,
  BatchResults,
  FileContentChunk,
  FilesCall,
  JsonResult,
  StreamResult,
} from '../../core/provider-adapter.js'
import { parseOpenAIError } from './errors.js'

/** Bifrost's default Azure `api-version` for the files and batches APIs (they need a recent one). */
const AZURE_FILES_API_VERSION = '2024-10-21'

/** Headers from the provider worth passing back to the caller. */
const FORWARDED_HEADERS = ['x-request-id', 'openai-processing-ms']

/** How a provider's files API is reached: its URL for a path, and its auth headers. */
interface FilesWire {
  url(a: Attempt, path: string, query: Record<string, string> | undefined): string
  auth(a: Attempt): Record<string, string>
}

function withQuery(url: string, query: Record<string, string> | undefined): string {
  const q = new URLSearchParams(query ?? {}).toString()
  if (!q) return url
  return url + (url.includes('?') ? '&' : '?') + q
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '')
}

/** OpenAI and the OpenAI-compatible table: `{base_url}{prefix}/files`, bearer auth. */
function openAICompatibleWire(cfg: ProviderConfig, spec: OpenAICompatibleSpec): FilesWire {
  return {
    url(a, path, query) {
      return withQuery(trimSlash(openAIBaseUrl(a, cfg, spec)) + spec.pathPrefix + path, query)
    },
    auth: (a): Record<string, string> => (a.secret ? { authorization: `Bearer ${a.secret}` } : {}),
  }
}

/** Azure OpenAI: `{endpoint}/openai/files?api-version=`, the key in `api-key`. Entra ID is not served here. */
function azureWire(cfg: ProviderConfig): FilesWire {
  const setting = (a: Attempt, field: string): string | undefined => {
    const v = a.key.azure_key_config?.[field]
    return typeof v === 'string' && v ? resolveSecret(v) : undefined
  }
  return {
    url(a, path, query) {
      if (setting(a, 'client_id') && setting(a, 'tenant_id')) {
        throw new GatewayError(
          'unsupported_operation',
          `the files and batches APIs of ${cfg.name} need an API key; Entra ID keys are not supported for them`,
          { retryable: false },
        )
      }
      const endpoint = setting(a, 'endpoint') ?? cfg.network_config.base_url
      if (!endpoint) {
        throw new GatewayError(
          'provider_not_configured',
          `key ${a.key.name} of provider ${cfg.name} needs azure_key_config.endpoint`,
          { retryable: false },
        )
      }
      const version = setting(a, 'api_version') ?? AZURE_FILES_API_VERSION
      return withQuery(`${trimSlash(endpoint)}/openai${path}`, { 'api-version': version, ...query })
    },
    auth: (a): Record<string, string> => (a.secret ? { 'api-key': a.secret } : {}),
  }
}

/** The files wire of a provider, or a 400 for a provider whose API has no files (Anthropic, Gemini ...). */
function wireFor(cfg: ProviderConfig): FilesWire {
  const type = cfg.custom_provider_config?.base_provider_type ?? cfg.name
  if (type === 'azure') return azureWire(cfg)
  const spec = openAICompatibleSpec(type)
  if (spec) return openAICompatibleWire(cfg, spec)
  throw new GatewayError(
    'unsupported_operation',
    `provider ${cfg.name} does not serve the files and batches APIs here (OpenAI-compatible providers and Azure do)`,
    { param: 'provider', retryable: false },
  )
}

async function send(a: Attempt, call: FilesCall): Promise<UpstreamResponse> {
  const wire = wireFor(a.provider)
  const headers: Record<string, string> = { ...a.extraHeaders, ...wire.auth(a) }
  return sendFilesCall(a, wire.url(a, call.path, call.query), call, headers, (name, status, text, h) =>
    upstreamError(name, status, text, h, parseOpenAIError),
  )
}

/** A files or batches call whose answer is a JSON object (a file, a batch, a list, a deletion). */
export async function callOpenAIFilesApi<T>(a: Attempt, call: FilesCall): Promise<JsonResult<T>> {
  return jsonAnswer<T>(a, await send(a, call), FORWARDED_HEADERS)
}

/** `GET /files/{id}/content`: the file's bytes, relayed chunk by chunk with their content type. */
export function downloadFileContent(a: Attempt, fileId: string): Promise<StreamResult<FileContentChunk>> {
  return downloadContent(a, `/files/${pathSegment(fileId, 'file_id')}/content`)
}

/** `GET {path}` of bytes (a file's, a container file's), relayed chunk by chunk with their content type. */
export async function downloadContent(a: Attempt, path: string): Promise<StreamResult<FileContentChunk>> {
  // The file's own content type and length go back to the caller with its bytes.
  return relayBytes(a, await send(a, { method: 'GET', path }), FORWARDED_HEADERS, 'application/octet-stream')
}

/** A downloaded file's text, refused past `maxBytes` rather than held in memory. */
async function readBounded(a: Attempt, fileId: string, maxBytes: number): Promise<string> {
  const { items } = await downloadFileContent(a, fileId)
  const parts: Buffer[] = []
  let size = 0
  for await (const { bytes } of items) {
    size += bytes.length
    if (size > maxBytes) {
      throw new GatewayError(
        'invalid_request',
        `the results of file ${fileId} are larger than ${maxBytes} bytes; download it from /v1/files/${fileId}/content`,
        { retryable: false },
      )
    }
    parts.push(bytes)
  }
  return Buffer.concat(parts).toString('utf8')
}

/** OpenAI's JSONL result lines as Bifrost's result items; a line that is not JSON is the provider's fault. */
function resultLines(name: string, text: string): BatchResultItem[] {
  const out: BatchResultItem[] = []
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    const row = parseJsonBody<{ custom_id?: string; response?: unknown; error?: unknown }>(name, line)
    const item: BatchResultItem = { custom_id: row.custom_id ?? '' }
    if (row.response) item.response = row.response as BatchResultItem['response']
    if (row.error) item.error = row.error as BatchResultItem['error']
    out.push(item)
  }
  return out
}

/**
 * A finished batch's results (Bifrost's `/batches/{id}/results`): the batch's output and error files
 * read and parsed, each bounded by `maxBytes`. A batch with neither file yet is the caller's to wait for.
 */
export async function readBatchResults(a: Attempt, batchId: string, maxBytes: number): Promise<BatchResults> {
  const name = a.provider.name
  const batch = (
    await callOpenAIFilesApi<{
      status?: string
      output_file_id?: string | null
      error_file_id?: string | null
    }>(a, {
      method: 'GET',
      path: `/batches/${pathSegment(batchId, 'batch_id')}`,
    })
  ).body
  const files = [batch.output_file_id, batch.error_file_id].filter((f): f is string => Boolean(f))
  if (files.length === 0) {
    throw new GatewayError(
      'invalid_request',
      `batch ${batchId} has no results yet (status ${batch.status ?? 'unknown'})`,
      { param: 'batch_id', retryable: false },
    )
  }
  const results: BatchResultItem[] = []
  for (const id of files) results.push(...resultLines(name, await readBounded(a, id, maxBytes)))
  return { body: { batch_id: batchId, results } }
}
