import { pathSegment } from '../../core/path-segment.js'
import { controlAnswer, sendUpstream } from '../http.js'
import type { Attempt, JsonResult } from '../../core/provider-adapter.js'
import { bedrockError } from './errors.js'
import { bedrockSettings, type BedrockKeySettings } from './settings.js'
import { signedHeaders } from './sign.js'

/** One call to Bedrock's control plane (batch inference's model invocation jobs). */
export interface BedrockControlCall {
  method: 'GET' | 'POST'
  /** `/model-invocation-job`, `/model-invocation-jobs`, `/model-invocation-job/{id}/stop` ... */
  path: string
  query?: Record<string, string>
  body?: string
}

/**
 * The control plane's base URL: `bedrock.{region}.amazonaws.com`, or the configured base URL with
 * `bedrock-runtime` turned into `bedrock` (a runtime endpoint names its control plane that way).
 */
function controlPlaneBase(a: Attempt, s: BedrockKeySettings): string {
  const configured = a.provider.network_config.base_url
  const base = configured
    ? configured.replace('bedrock-runtime', 'bedrock')
    : `https://bedrock.${s.region}.amazonaws.com`
  return base.replace(/\/+$/, '')
}

/** A control-plane call with one of the provider's keys; AWS's JSON answer (`{}` for an empty one). */
export async function callBedrockControlPlane<T>(
  a: Attempt,
  call: BedrockControlCall,
): Promise<JsonResult<T>> {
  const name = a.provider.name
  const s = bedrockSettings(a, a.provider)
  const url = new URL(controlPlaneBase(a, s) + call.path)
  for (const [k, v] of Object.entries(call.query ?? {})) url.searchParams.set(k, v)
  const base: Record<string, string> = { accept: 'application/json' }
  if (call.body !== undefined) base['content-type'] = 'application/json'
  // Extra headers may not touch what SigV4 signs and sets (x-amz-date, x-amz-security-token ...).
  for (const [k, v] of Object.entries(a.extraHeaders))
    if (!k.toLowerCase().startsWith('x-amz-')) base[k.toLowerCase()] = v
  const headers = await signedHeaders(s, url, call.body ?? '', base, {
    method: call.method,
    query: call.query ?? {},
  })
  const res = await sendUpstream(
    a,
    { url: url.toString(), method: call.method, headers, body: call.body },
    name,
  )
  return controlAnswer<T>(a, res, bedrockError, ['x-amzn-requestid'])
}

/** A job's ARN or id as one path segment. */
export function jobPath(jobIdentifier: string, action = ''): string {
  return `/model-invocation-job/${pathSegment(jobIdentifier, 'jobIdentifier')}${action}`
}
