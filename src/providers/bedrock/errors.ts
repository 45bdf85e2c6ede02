import { GatewayError } from '../../core/errors.js'
import { headerValue, upstreamError, type UpstreamResponse } from '../http.js'

/** AWS error names and the HTTP status each stands for (for exceptions met inside a stream). */
const STATUS_OF: Record<string, number> = {
  ValidationException: 400,
  AccessDeniedException: 403,
  UnrecognizedClientException: 403,
  InvalidSignatureException: 403,
  ResourceNotFoundException: 404,
  ThrottlingException: 429,
  ServiceQuotaExceededException: 429,
  ModelTimeoutException: 408,
  ModelNotReadyException: 429,
  ModelErrorException: 424,
  ModelStreamErrorException: 424,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
}

/** `ValidationException:http://internal.amazon.com/...` or `validationException` -> `ValidationException`. */
export function awsErrorName(raw: string | undefined): string | undefined {
  if (!raw) return undefined
  const name = raw.split(':')[0].split('#').pop()!
  return name ? name[0].toUpperCase() + name.slice(1) : undefined
}

function parse(json: unknown): { message?: string; type?: string } {
  const o = (json ?? {}) as Record<string, unknown>
  const message = (o.message ?? o.Message) as string | undefined
  const type = awsErrorName((o.__type ?? o.code) as string | undefined)
  return { message, type }
}

/** A non-2xx Bedrock answer: `x-amzn-errortype` names the AWS error, the body carries `{message}`. */
export function bedrockError(
  providerName: string,
  status: number,
  text: string,
  headers: UpstreamResponse['headers'],
): GatewayError {
  const name = awsErrorName(headerValue(headers, 'x-amzn-errortype'))
  return upstreamError(providerName, status, text, headers, (json) => {
    const parsed = parse(json)
    return { ...parsed, type: name ?? parsed.type }
  })
}

/** An exception message met inside an event stream (`throttlingException`, `modelStreamErrorException` ...). */
export function bedrockErrorOf(
  providerName: string,
  name: string,
  text: string,
  stream: boolean,
): GatewayError {
  const type = awsErrorName(name) ?? 'InternalServerException'
  let message = text
  try {
    message = parse(JSON.parse(text)).message ?? text
  } catch {
    // not JSON: keep the text
  }
  return new GatewayError(
    stream ? 'upstream_stream_error' : 'upstream_error',
    message || `${providerName}: ${type}`,
    {
      status: STATUS_OF[type] ?? 502,
      type,
      isBifrostError: false,
    },
  )
}
