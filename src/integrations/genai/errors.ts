import type { GatewayError } from '../../core/errors.js'

/** Google's error body: `{error: {code, message, status}}`. */
export interface GenAIErrorBody {
  error: { code: number; message: string; status: string }
}

/** The canonical gRPC status name Google APIs send for an HTTP status. */
function statusName(status: number): string {
  switch (status) {
    case 400:
    case 405:
    case 413:
    case 415:
      return 'INVALID_ARGUMENT'
    case 401:
      return 'UNAUTHENTICATED'
    case 402:
    case 403:
      return 'PERMISSION_DENIED'
    case 404:
      return 'NOT_FOUND'
    case 409:
      return 'ABORTED'
    case 429:
      return 'RESOURCE_EXHAUSTED'
    case 499:
      return 'CANCELLED'
    case 501:
      return 'UNIMPLEMENTED'
    case 503:
      return 'UNAVAILABLE'
    case 504:
      return 'DEADLINE_EXCEEDED'
    default:
      return 'INTERNAL'
  }
}

export function toGenAIError(err: GatewayError): GenAIErrorBody {
  return { error: { code: err.status, message: err.message, status: statusName(err.status) } }
}
