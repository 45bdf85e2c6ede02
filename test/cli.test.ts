import { Agent, request as httpRequest } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import { FakeServer, SseWriter } from './fakes/server.js'
import { alive, build, children, runCli, type Exit, type RunningCli } from './helpers/cli.js'
import { freePort } from './helpers/free-port.js'

/**
 * The built `heimdall` command as an operator runs it: flags and environment, config.json in the
 * app dir, health, errors at start, and a graceful stop that lets streams in flight finish.
 */

/** Resolves with the exit, or rejects when it takes longer than `ms`. */
async function exitWithin(child: RunningCli, ms: number): Promise<Exit> {
  const timer = sleep(ms).then(() => {
    throw new Error(`heimdall still running after ${ms} ms:\n${child.output()}`)
  })
  return Promise.race([child.exited, timer])
}

/** Stops a child and waits for a clean exit. */
async function stop(child: RunningCli, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  child.proc.kill(signal)
  expect(await exitWithin(child, 5000)).toEqual({ code: 0, signal: null })
}

/** Whether a new TCP connection to the port is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      done(false)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'))
  })
}

const tempDirs: string[] = []
async function appDirWith(config: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'heimdall-cli-'))
  tempDirs.push(dir)
  await writeFile(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config))
  return dir
}

const providerAt = (baseUrl: string) => ({
  providers: {
    openai: {
      keys: [{ name: 'main', value: 'sk-cli-test', models: ['*'] }],
      network_config: { base_url: baseUrl },
    },
  },
})

async function chat(url: string): Promise<string> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    signal: AbortSignal.timeout(5000),
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as any).choices[0].message.content
}

async function expectHealthy(url: string): Promise<void> {
  const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) })
  expect(res.status).toBe(200)
  expect(await res.json()).toMatchObject({ status: 'ok', components: { db_pings: 'ok', config_store: 'ok' } })
}

/** An OpenAI-shaped upstream that streams one word every `delayMs`, for requests that stay in flight. */
const SLOW_WORDS = ['one ', 'two ', 'three ', 'four ', 'five ', 'six ', 'seven ', 'eight']
function startSlowOpenAI(delayMs: number): Promise<FakeServer> {
  return new FakeServer(async ({ res, body }) => {
    const sse = new SseWriter(res, undefined)
    const frame = (delta: Record<string, unknown>, finish: string | null = null) =>
      JSON.stringify({
        id: 'chatcmpl-slow',
        object: 'chat.completion.chunk',
        created: 1700000000,
        model: body.model,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      })
    sse.send(frame({ role: 'assistant', content: '' }))
    for (const word of SLOW_WORDS) {
      await sleep(delayMs)
      if (res.destroyed) return
      sse.send(frame({ content: word }))
    }
    sse.send(frame({}, 'stop'))
    sse.send('[DONE]')
    sse.end()
  }).start()
}

interface OpenStream {
  status: number
  /** The first bytes of the body. */
  first: string
  /** The whole body, once it has ended; rejects if the connection is cut first. */
  rest: Promise<string>
}

/** A streamed chat request over `agent`; resolves as soon as the first bytes arrive. */
function startStream(url: string, agent: Agent): Promise<OpenStream> {
  const target = new URL(`${url}/v1/chat/completions`)
  return new Promise((resolveStart, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json' },
        timeout: 10_000,
      },
      (res) => {
        res.setEncoding('utf8')
        let text = ''
        const rest = new Promise<string>((done, fail) => {
          res.on('end', () => done(text))
          res.on('close', () => {
            if (!res.complete) fail(new Error(`the stream was cut after:\n${text}`))
          })
        })
        rest.catch(() => undefined) // observed by the test; not an unhandled rejection meanwhile
        res.on('data', (d: string) => {
          if (text === '') resolveStart({ status: res.statusCode ?? 0, first: d, rest })
          text += d
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')))
    req.on('error', reject)
    req.end(
      JSON.stringify({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'count' }],
        stream: true,
      }),
    )
  })
}

describe('heimdall command', () => {
  let fake: FakeServer

  beforeAll(async () => {
    build()
    fake = await startFakeOpenAI()
  })
  afterAll(async () => {
    for (const child of children) if (alive(child)) child.proc.kill('SIGKILL')
    await fake?.close()
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true })
  })

  it.concurrent.each([['--help'], ['-h'], ['-help']])('prints its usage for %s and exits 0', async (flag) => {
    const child = runCli([flag])
    expect(await exitWithin(child, 5000)).toEqual({ code: 0, signal: null })
    const help = child.stdout()
    expect(help).toContain('Usage: heimdall')
    for (const option of ['--app-dir', '--config', '--port', '--host', '--log-level', '-h, --help'])
      expect(help).toContain(option)
    for (const variable of ['HEIMDALL_APP_DIR', 'HEIMDALL_PORT', 'HEIMDALL_CONFIG'])
      expect(help).toContain(variable)
  })

  it('starts from the config.json in --app-dir, reports healthy, serves, and stops on SIGINT', async () => {
    const dir = await appDirWith(providerAt(fake.url))
    const child = runCli(['--app-dir', dir, '--port', '0'])
    const url = await child.url()
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(url).not.toMatch(/:0$/)
    await expectHealthy(url)
    expect(await chat(url)).toBe('Echo: hi')
    expect(fake.requests.at(-1)?.headers.authorization).toBe('Bearer sk-cli-test')
    expect(existsSync(join(dir, 'config.db'))).toBe(true)
    await stop(child, 'SIGINT')
  })

  it('takes HEIMDALL_PORT and HEIMDALL_APP_DIR as it takes the flags', async () => {
    const dir = await appDirWith(providerAt(fake.url))
    const elsewhere = await appDirWith({})
    const port = await freePort()
    const child = runCli([], { env: { HEIMDALL_PORT: String(port), HEIMDALL_APP_DIR: dir }, cwd: elsewhere })
    const url = await child.url()
    expect(url).toBe(`http://127.0.0.1:${port}`)
    await expectHealthy(url)
    expect(await chat(url)).toBe('Echo: hi')
    expect(existsSync(join(dir, 'config.db'))).toBe(true)
    expect(existsSync(join(elsewhere, 'data'))).toBe(false)
    await stop(child)
  })

  it("accepts Bifrost's single-dash flags, which win over the environment", async () => {
    const dir = await appDirWith(providerAt(fake.url))
    const [port, envPort] = [await freePort(), await freePort()]
    const child = runCli(['-port', String(port), '-app-dir', dir], {
      env: { HEIMDALL_PORT: String(envPort) },
    })
    const url = await child.url()
    expect(url).toBe(`http://127.0.0.1:${port}`)
    await expectHealthy(url)
    expect(await chat(url)).toBe('Echo: hi')
    expect(await refused(envPort)).toBe(true)
    await stop(child)
  })

  it.concurrent.each([
    ['not JSON', '{ "providers": '],
    ['a client setting of the wrong type', { client: { max_request_body_size_mb: 'big' } }],
    ['providers given as an array', { providers: [] }],
    [
      'an unknown provider without custom_provider_config',
      { providers: { acme: { keys: [{ value: 'sk-x' }] } } },
    ],
    [
      'a provider with concurrency above buffer_size',
      {
        providers: { openai: { keys: [], concurrency_and_buffer_size: { concurrency: 10, buffer_size: 1 } } },
      },
    ],
    [
      'a provider with retry_backoff_initial "fast"',
      { providers: { openai: { keys: [], network_config: { retry_backoff_initial: 'fast' } } } },
    ],
    [
      'an admin login under governance.auth_config whose password variable is not set',
      {
        governance: {
          auth_config: {
            is_enabled: true,
            admin_username: 'admin',
            admin_password: 'env.HEIMDALL_UNSET_PASSWORD',
          },
        },
      },
    ],
    [
      'an admin login turned on without a password',
      { auth_config: { is_enabled: true, admin_username: 'admin' } },
    ],
  ])('exits non-zero, naming config.json, when it holds %s', async (_what, config) => {
    const dir = await appDirWith(config)
    const child = runCli(['--app-dir', dir, '--port', '0'])
    const exit = await exitWithin(child, 10_000)
    expect(exit.code, child.output()).not.toBe(0)
    expect(exit.code).not.toBeNull()
    expect(child.output()).toContain(join(dir, 'config.json'))
  })

  it('starts again once a refused config.json is fixed: a failed start leaves nothing behind', async () => {
    const dir = await appDirWith({
      providers: { acme: { keys: [{ value: 'sk-x' }], network_config: { base_url: fake.url } } },
    })
    const refusedStart = runCli(['--app-dir', dir, '--port', '0'])
    expect((await exitWithin(refusedStart, 10_000)).code).not.toBe(0)

    await writeFile(join(dir, 'config.json'), JSON.stringify(providerAt(fake.url)))
    const child = runCli(['--app-dir', dir, '--port', '0'])
    const url = await child.url()
    await expectHealthy(url)
    expect(await chat(url)).toBe('Echo: hi')
    await stop(child)
  })

  it.concurrent.each([
    ['an unknown flag', ['--bogus']],
    ['a port that is not a number', ['--port', 'eighty']],
  ])('exits non-zero with a message for %s', async (_what, args) => {
    const dir = await appDirWith({})
    const child = runCli(['--app-dir', dir, ...args])
    const exit = await exitWithin(child, 10_000)
    expect(exit.code).toBe(1)
    expect(child.output()).toMatch(/^heimdall: .+/m)
  })

  it('on SIGTERM refuses new connections, finishes the stream in flight, and exits 0', async () => {
    const slow = await startSlowOpenAI(150)
    // SDKs keep their connections alive; the server must not wait for the client to drop it.
    const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 })
    let child: RunningCli | undefined
    try {
      const dir = await appDirWith(providerAt(slow.url))
      child = runCli(['--app-dir', dir, '--port', '0'])
      const url = await child.url()
      const port = Number(new URL(url).port)

      const stream = await startStream(url, agent)
      expect(stream.status).toBe(200)
      expect(stream.first).toContain('data: ')

      child.proc.kill('SIGTERM')
      const signalledAt = Date.now()
      // New connections are refused while the stream goes on.
      let closedToNew = false
      while (!closedToNew && Date.now() - signalledAt < 2000) {
        closedToNew = await refused(port)
        if (!closedToNew) await sleep(25)
      }
      expect(closedToNew).toBe(true)
      expect(alive(child)).toBe(true)

      const frames = (await stream.rest)
        .split('\n\n')
        .map((f) => f.trim())
        .filter(Boolean)
      expect(frames.at(-1)).toBe('data: [DONE]')
      const content = frames
        .slice(0, -1)
        .map((f) => JSON.parse(f.replace(/^data: /, '')))
        .map((chunk) => chunk.choices?.[0]?.delta?.content ?? '')
        .join('')
      expect(content).toBe(SLOW_WORDS.join(''))

      // The process goes once its last response is out (not when shutdown_timeout_seconds runs out).
      expect(await exitWithin(child, 3000)).toEqual({ code: 0, signal: null })
    } finally {
      agent.destroy()
      if (child && alive(child)) {
        child.proc.kill('SIGKILL')
        await child.exited
      }
      await slow.close()
    }
  })

  it('leaves no child process running', () => {
    expect(children.filter(alive).map((c) => c.proc.pid)).toEqual([])
  })
})
