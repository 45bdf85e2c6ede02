import { expect } from 'vitest'
import { GatewayError } from '../../src/core/errors.js'

/** The GatewayError `fn` throws; the test fails when it throws something else or nothing. */
export function thrownGatewayError(fn: () => unknown): GatewayError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError)
    return err as GatewayError
  }
  throw new Error('expected an error')
}
