import type { GatewayContext } from './context.js'
import { GatewayError } from './errors.js'

/** Providers echo the key they were given in some error messages; it must not reach the caller. */
export function scrubSecret(err: GatewayError, secret: string): GatewayError {
  if (secret.length >= 6 && err.message.includes(secret))
    err.message = err.message.split(secret).join('[redacted]')
  return err
}

/** The error of a request whose client went away (or whose cancellation gave its own reason). */
export function cancelled(ctx: GatewayContext): GatewayError {
  const reason: unknown = ctx.signal.reason
  if (reason instanceof GatewayError) return reason
  return new GatewayError('request_cancelled', 'the client went away', { retryable: false })
}
