import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime'
import { NodeHttpHandler } from '@smithy/node-http-handler'

/**
 * The AWS SDK's Bedrock Runtime client on `endpoint` (a gateway's `/bedrock`), signing with the
 * caller's own AWS credentials, which the gateway does not check; one attempt, over HTTP/1.1 (the
 * client speaks HTTP/2 by default; the gateway serves HTTP/1.1); `extra` on top.
 */
export function bedrockCaller(endpoint: string, extra: Record<string, unknown> = {}): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'AKIACALLER', secretAccessKey: 'caller-secret' },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler(),
    ...extra,
  })
}
