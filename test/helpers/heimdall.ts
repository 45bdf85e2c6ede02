import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { ConfigFile } from '../../src/core/schemas/index.js'
import { createHeimdall, type Heimdall } from '../../src/http/app.js'

export interface RunningHeimdall {
  url: string
  heimdall: Heimdall
  appDir: string
  close(): Promise<void>
}

/** Starts the real server on a free loopback port, with its app dir in a fresh temp folder. */
export async function startHeimdall(
  config: ConfigFile,
  opts: { appDir?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningHeimdall> {
  const appDir = opts.appDir ?? (await mkdtemp(join(tmpdir(), 'heimdall-test-')))
  const heimdall = await createHeimdall({
    appDir,
    config,
    port: 0,
    host: '127.0.0.1',
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    env: { ...process.env, ...opts.env },
  })
  const url = await heimdall.listen()
  return {
    url,
    heimdall,
    appDir,
    async close() {
      await heimdall.close()
      if (!opts.appDir) await rm(appDir, { recursive: true, force: true })
    },
  }
}

/** A call with a JSON body (if any) and a Bearer token (if any), answered with its status and parsed JSON body. */
export async function callJson(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  bearer?: string,
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`
  const res = await fetch(baseUrl + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

/** A virtual key made through the management API (any model of `openai` unless `body` says otherwise). */
export async function createVirtualKey(
  baseUrl: string,
  body: Record<string, unknown> = {},
): Promise<{ id: string; value: string }> {
  const r = await callJson(baseUrl, 'POST', '/api/governance/virtual-keys', {
    name: `vk-${Math.random().toString(36).slice(2)}`,
    provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
    ...body,
  })
  if (r.status !== 200) throw new Error(`virtual key not created: ${r.status} ${JSON.stringify(r.body)}`)
  return { id: r.body.virtual_key.id, value: r.body.virtual_key.value }
}

/** A provider entry pointing at a fake. */
export function fakeProvider(
  baseUrl: string,
  extra: Record<string, unknown> = {},
  keys?: unknown[],
): Record<string, unknown> {
  return {
    keys: keys ?? [{ name: 'main', value: 'sk-test', models: ['*'], weight: 1 }],
    ...extra,
    network_config: {
      base_url: baseUrl,
      retry_backoff_initial: 10,
      retry_backoff_max: 50,
      ...(extra.network_config as object),
    },
  }
}

/** Reads an SSE response body into its data frames. */
export async function readSse(res: Response): Promise<{ event?: string; data: string }[]> {
  const text = await res.text()
  return text
    .split('\n\n')
    .filter((b) => b.trim())
    .map((block) => {
      let event: string | undefined
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim()
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
      }
      return { event, data: data.join('\n') }
    })
}
