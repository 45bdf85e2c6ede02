#!/usr/bin/env -S node --max-semi-space-size=32
// A 32 MB young generation (V8's default is 16): half as many scavenges under load, less CPU per
// request. V8 reads the flag only at start (v8.setFlagsFromString comes too late), so it is given
// here and in `npm start`; `node dist/cli.js` runs without it (see the README's "Running it").
import { parseArgs } from 'node:util'
import { createHeimdall } from './http/index.js'

const HELP = `heimdall: an AI gateway with a Bifrost-compatible API

Usage: heimdall [options]

Options (each also an environment variable):
  --app-dir DIR      where config.json and the SQLite files live   HEIMDALL_APP_DIR   (default ./data)
  --config FILE      the config file                              HEIMDALL_CONFIG    (default <app-dir>/config.json)
  --port N           port to listen on                            HEIMDALL_PORT      (default 8080)
  --host ADDR        address to listen on                         HEIMDALL_HOST      (default 127.0.0.1)
  --log-level LEVEL  fatal|error|warn|info|debug|trace            HEIMDALL_LOG_LEVEL (default info)
  -h, --help         this text

Admin login (environment only; config.json's auth_config takes precedence):
  HEIMDALL_ADMIN_USERNAME, HEIMDALL_ADMIN_PASSWORD   the management API's admin login
  HEIMDALL_SETUP_TOKEN   the token of POST /api/session/setup (default: a random one, printed at
                         start when listening beyond loopback without an admin login)
`

/** Accepts Bifrost's single-dash flags (-port 8080) as well as --port 8080. */
function normalizeArgv(argv: string[]): string[] {
  return argv.map((a) => (/^-[a-z][a-z-]+/.test(a) ? `-${a}` : a))
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: normalizeArgv(process.argv.slice(2)),
    options: {
      'app-dir': { type: 'string' },
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(HELP)
    return
  }
  const env = process.env
  const portText = values.port ?? env.HEIMDALL_PORT ?? '8080'
  const port = Number(portText)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${portText}`)

  const heimdall = await createHeimdall({
    appDir: values['app-dir'] ?? env.HEIMDALL_APP_DIR ?? './data',
    configPath: values.config ?? env.HEIMDALL_CONFIG,
    port,
    host: values.host ?? env.HEIMDALL_HOST ?? '127.0.0.1',
    logLevel: values['log-level'] ?? env.HEIMDALL_LOG_LEVEL ?? 'info',
  })
  const url = await heimdall.listen()
  heimdall.logger.info(
    { url, providers: heimdall.registry.list().map((p) => p.config.name) },
    `Heimdall listening on ${url}`,
  )

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    heimdall.logger.info({ signal }, 'shutting down: finishing in-flight requests')
    heimdall.close().then(
      () => process.exit(0),
      (err: unknown) => {
        heimdall.logger.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((err: unknown) => {
  process.stderr.write(`heimdall: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
