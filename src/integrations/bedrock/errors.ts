import type { GatewayError } from '../../core/errors.js'

/** An error as AWS answers it: the `x-amzn-errortype` name, the HTTP status and `{message}`. */
export interface BedrockErrorOut {
  name: string
  status: number
  message: string
}

function nameForStatus(status: number): string {
  if (status === 400 || status === 405 || status === 413 || status === 415) return 'ValidationException'
  if (status === 401 || status === 402 || status === 403) return 'AccessDeniedException'
  if (status === 404) return 'ResourceNotFoundException'
  if (status === 408 || status === 504) return 'ModelTimeoutException'
  if (status === 424) return 'ModelErrorException'
  if (status === 429) return 'ThrottlingException'
  if (status === 503) return 'ServiceUnavailableException'
  return 'InternalServerException'
}

/**
 * A gateway error in AWS's shape, so the Bedrock SDK raises its own exception class and retries
 * what it would retry: an upstream AWS error keeps its name, any other error is named by its status.
 */
export function toBedrockError(err: GatewayError): BedrockErrorOut {
  const name = /^[A-Z][A-Za-z]+Exception$/.test(err.type) ? err.type : nameForStatus(err.status)
  return { name, status: err.status, message: err.message }
}

/** The exception name inside an event stream: the same name with a lower-case first letter. */
export function streamExceptionName(name: string): string {
  return name[0].toLowerCase() + name.slice(1)
}
