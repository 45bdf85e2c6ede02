import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../core/errors.js'

/** Deepest nesting of arrays and objects a JSON body may have: far beyond any real request, far below a stack overflow. */
export const MAX_JSON_DEPTH = 256

/**
 * Whether JSON text nests arrays and objects deeper than `max`. A scan of the text, before it is
 * parsed: what walks the parsed value later (validation, redaction, serialization) recurses.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0
  const n = text.length
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === 34 /* " */) {
      // To the closing quote: one not escaped by an odd run of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1)
        if (i === -1) return false
        let slashes = 0
        while (text.charCodeAt(i - 1 - slashes) === 92) slashes++
        if (slashes % 2 === 0) break
      }
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--
  }
  return false
}

/** Fastify's JSON parser (with its prototype-poisoning checks), refusing bodies nested too deep with a 400. */
export function installJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string
    // A text of MAX_JSON_DEPTH characters or fewer cannot open more levels than that.
    if (text.length > MAX_JSON_DEPTH && nestsDeeperThan(text, MAX_JSON_DEPTH)) {
      return done(
        new GatewayError(
          'invalid_json',
          `the body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`,
        ),
        undefined,
      )
    }
    parse(request, text, done)
  })
}
