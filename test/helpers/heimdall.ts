import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { ConfigFile } from '../../src/core/schemas/index.js'
import { createHeimdall, type Heimdall } from '../../src/http/app.js'
import type { FakeBedrockCredentials } from '../fakes/bedrock.js'

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

/** The value of a new virtual key named `name` for any model and key of `provider`, made with the admin's `authorization`. */
export async function adminVirtualKey(
  baseUrl: string,
  name: string,
  provider: string,
  authorization: string,
): Promise<string> {
  const res = await fetch(`${baseUrl}/api/governance/virtual-keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body: JSON.stringify({
      name,
      provider_configs: [{ provider, allowed_models: ['*'], key_ids: ['*'] }],
    }),
  })
  if (res.status !== 200) throw new Error(`virtual key not created: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { virtual_key: { value: string } }).virtual_key.value
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

/** A Bedrock provider whose one key signs with `creds` (session token included, if any) in `region`, pointed at a fake. */
export function fakeBedrockProvider(
  url: string,
  creds: FakeBedrockCredentials,
  region = 'us-east-1',
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const config = {
    access_key: creds.accessKeyId,
    secret_key: creds.secretAccessKey,
    ...(creds.sessionToken !== undefined && { session_token: creds.sessionToken }),
    region,
  }
  return fakeProvider(url, extra, [
    { name: 'aws', value: '', models: ['*'], weight: 1, bedrock_key_config: config },
  ])
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
