import { GatewayError } from './errors.js'

/**
 * One path segment of an upstream URL built from caller input (a model, a deployment, a file or
 * batch id): percent-encoded so that `/`, `?`, `#` and `\` stay inside the segment. A name that
 * is empty, `.` or `..` would still move the path (URL parsers resolve `%2E%2E` too), and one
 * with a lone surrogate cannot be encoded: both are refused with a 400.
 */
export function pathSegment(value: string, param = 'model'): string {
  if (value === '' || value === '.' || value === '..') {
    throw new GatewayError('invalid_request', `${param} "${value}" cannot be part of a URL path`, {
      param,
      retryable: false,
    })
  }
  try {
    return encodeURIComponent(value)
  } catch {
    throw new GatewayError('invalid_request', `${param} holds characters that are not valid Unicode`, {
      param,
      retryable: false,
    })
  }
}
