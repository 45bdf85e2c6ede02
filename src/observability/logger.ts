import { destination as pinoDestination, pino, stdTimeFunctions, type Logger } from 'pino'

export type { Logger } from 'pino'

/** Paths redacted from every log line, so that no call site has to remember to. */
const REDACT = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'req.headers["x-goog-api-key"]',
  'req.headers["x-bf-vk"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.value',
  '*.secret',
  '*.password',
  '*.encryption_key',
  '*.admin_password',
  'keys[*].value',
  // A provider's network settings: header values and a base URL may carry credentials.
  '*.extra_headers',
  '*.base_url',
]

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { service: 'heimdall' },
      timestamp: stdTimeFunctions.isoTime,
    },
    destination ?? pinoDestination({ dest: 2, sync: false }),
  )
}
