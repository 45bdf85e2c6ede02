import { Sha256 } from '@aws-crypto/sha256-js'
import { SignatureV4 } from '@smithy/signature-v4'
import type { BedrockKeySettings } from './settings.js'

/** The Bedrock Runtime service name in SigV4's credential scope. */
export const BEDROCK_SIGNING_SERVICE = 'bedrock'

/**
 * Headers for one Bedrock request: SigV4 over method, path, query, host and body with the key's
 * credentials, or a bearer token for a Bedrock API key. Runtime calls are POSTs without a query.
 */
export async function signedHeaders(
  s: BedrockKeySettings,
  url: URL,
  body: string,
  headers: Record<string, string>,
  request: { method: 'GET' | 'POST'; query: Record<string, string> } = { method: 'POST', query: {} },
): Promise<Record<string, string>> {
  if (!s.credentials) {
    return s.bearer ? { ...headers, authorization: `Bearer ${s.bearer}` } : headers
  }
  const signer = new SignatureV4({
    credentials: s.credentials,
    region: s.region,
    service: BEDROCK_SIGNING_SERVICE,
    sha256: Sha256,
  })
  const signed = await signer.sign({
    method: request.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query: request.query,
    headers: { ...headers, host: url.host },
    body,
  })
  return signed.headers
}
