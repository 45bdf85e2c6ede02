import type { TSchema, Static } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { GatewayError } from '../core/errors.js'

/** A compiled TypeBox check that answers a 400 naming the first offending field. */
export function compileValidator<T extends TSchema>(schema: T): (value: unknown) => Static<T> {
  const check: TypeCheck<T> = TypeCompiler.Compile(schema)
  return (value: unknown) => {
    if (check.Check(value)) return value
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new GatewayError('invalid_request', 'the body must be a JSON object')
    }
    const first = check.Errors(value).First()
    const path = first ? first.path.replace(/^\//, '').replace(/\//g, '.') : ''
    if (path === 'model') {
      throw new GatewayError(
        'model_required',
        'model is required, as "provider/model" (e.g. openai/gpt-4o-mini)',
        {
          param: 'model',
        },
      )
    }
    const message = first
      ? `${path || 'body'}: ${first.message.toLowerCase()}`
      : 'the body does not match the schema'
    throw new GatewayError('invalid_request', message, { param: path || undefined })
  }
}
