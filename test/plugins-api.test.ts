import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { callJson, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { EXAMPLE_PLUGIN } from './helpers/example-plugin.js'

/** /api/plugins, Bifrost's routes and fields: plugins enabled, disabled and reconfigured without a restart. */
describe('/api/plugins', () => {
  let fake: FakeServer
  let gw: RunningHeimdall
  let dir: string
  let appDir: string
  let openai: OpenAI

  const start = async () => {
    gw = await startHeimdall({ providers: { openai: fakeProvider(fake.url) } }, { appDir })
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  }
  const answer = async (content = 'hi') =>
    (
      await openai.chat.completions.create({
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content }],
      })
    ).choices[0].message.content
  const api = (method: string, path: string, body?: unknown) => callJson(gw.url, method, path, body)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'heimdall-plugins-api-'))
    appDir = join(dir, 'app')
    await writeFile(join(dir, 'example.mjs'), EXAMPLE_PLUGIN)
    await writeFile(join(dir, 'no-init.mjs'), 'export const name = "x"\n')
    fake = await startFakeOpenAI()
    await start()
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
    await rm(dir, { recursive: true, force: true })
  })
  beforeEach(() => fake.reset())

  it('lists the built-in plugins already in the pipeline', async () => {
    const { status, body } = await api('GET', '/api/plugins')
    expect(status).toBe(200)
    const names = body.plugins.map((p: { name: string }) => p.name)
    expect(names).toEqual(expect.arrayContaining(['governance', 'mcp', 'logging']))
    expect(body.count).toBe(body.plugins.length)
    expect(body.plugins.find((p: { name: string }) => p.name === 'governance')).toMatchObject({
      enabled: true,
      isCustom: false,
      path: null,
      status: { name: 'governance', status: 'active' },
    })
  })

  it('creates, reconfigures, disables, enables and deletes the mocker, each at once', async () => {
    const created = await api('POST', '/api/plugins', {
      name: 'mocker',
      enabled: true,
      config: { rules: [{ name: 'all', responses: [{ type: 'success', content: { message: 'first' } }] }] },
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      message: 'Plugin created successfully',
      plugin: { name: 'mocker', enabled: true, isCustom: false, path: null, status: { status: 'active' } },
    })
    expect(await answer()).toBe('first')

    const reconfigured = await api('PUT', '/api/plugins/mocker', {
      enabled: true,
      config: { rules: [{ name: 'all', responses: [{ type: 'success', content: { message: 'second' } }] }] },
    })
    expect(reconfigured.status).toBe(200)
    expect(reconfigured.body.message).toBe('Plugin updated successfully')
    expect(await answer()).toBe('second')

    const disabled = await api('PUT', '/api/plugins/mocker', { enabled: false })
    expect(disabled.body.plugin).toMatchObject({ enabled: false, status: { status: 'disabled' } })
    // The config is kept (merged), only the plugin is out of the pipeline.
    expect(disabled.body.plugin.config.rules[0].responses[0].content.message).toBe('second')
    expect(await answer()).toBe('Echo: hi')

    expect((await api('PUT', '/api/plugins/mocker', { enabled: true })).status).toBe(200)
    expect(await answer()).toBe('second')
    expect((await api('GET', '/api/plugins/mocker')).body).toMatchObject({ name: 'mocker', enabled: true })

    expect(await api('DELETE', '/api/plugins/mocker')).toEqual({
      status: 200,
      body: { message: 'Plugin deleted successfully' },
    })
    expect(await answer()).toBe('Echo: hi')
    expect((await api('GET', '/api/plugins/mocker')).status).toBe(404)
    expect((await api('DELETE', '/api/plugins/mocker')).status).toBe(404)
  })

  it('loads a custom module by path, reconfigures it, and keeps it across a restart', async () => {
    const path = join(dir, 'example.mjs')
    const created = await api('POST', '/api/plugins', {
      name: 'example',
      enabled: true,
      path,
      config: { suffix: ' [v1]' },
    })
    expect(created.status).toBe(201)
    expect(created.body.plugin).toMatchObject({ name: 'example', isCustom: true, path })
    expect(await answer('[post] hi')).toBe('Echo: [post] hi [v1]')
    // A PUT that leaves out path keeps it; config merges over the old one.
    expect(
      (await api('PUT', '/api/plugins/example', { enabled: true, config: { suffix: ' [v2]' } })).status,
    ).toBe(200)
    expect(await answer('[post] hi')).toBe('Echo: [post] hi [v2]')

    await gw.close()
    await start()
    expect((await api('GET', '/api/plugins/example')).body).toMatchObject({
      path,
      config: { suffix: ' [v2]' },
    })
    expect(await answer('[post] hi')).toBe('Echo: [post] hi [v2]')
    expect((await api('DELETE', '/api/plugins/example')).status).toBe(200)
  })

  it('refuses bad input with 400 naming the file and the field, and leaves the running plugin in place', async () => {
    const path = join(dir, 'example.mjs')
    expect(
      (await api('POST', '/api/plugins', { name: 'example', enabled: true, path, config: { suffix: 'x' } }))
        .status,
    ).toBe(201)

    const cases: [unknown, RegExp][] = [
      [{ enabled: true }, /Plugin name is required/],
      [{ name: 'p', enabled: 'yes' }, /enabled must be a boolean/],
      [{ name: 'p', enabled: true }, /plugin p is not built in: give the path/],
      [
        { name: 'p', enabled: true, path: join(dir, 'absent.mjs') },
        /plugins\.p \(.*absent\.mjs\): cannot load/,
      ],
      [
        { name: 'p', enabled: true, path: join(dir, 'no-init.mjs') },
        /no-init\.mjs\): .*exports no init function/,
      ],
      [
        { name: 'p', enabled: true, path, config: { suffix: 1 } },
        /plugins\.p \(.*example\.mjs\): config\.suffix: must be string/,
      ],
      [
        { name: 'p', enabled: true, path, config: { suffix: 'a', extra: 1 } },
        /must NOT have additional properties/,
      ],
      [
        { name: 'mocker', enabled: true, config: { default_behavior: 'maybe' } },
        /plugins\.mocker: config\.default_behavior/,
      ],
      [{ name: 'p', enabled: true, path, placement: 'middle' }, /Invalid placement value/],
      [{ name: 'p', enabled: true, path: '/opt/plugins/p.so' }, /not an ES module .*Go and WASM plugins/],
    ]
    for (const [body, message] of cases) {
      const { status, body: err } = await api('POST', '/api/plugins', body)
      expect(status, JSON.stringify(body)).toBe(400)
      expect(err).toMatchObject({
        is_bifrost_error: false,
        status_code: 400,
        error: { type: 'invalid_request_error' },
      })
      expect(err.error.message).toMatch(message)
    }
    expect(
      (await api('POST', '/api/plugins', { name: 'example', enabled: true, path, config: { suffix: 'x' } }))
        .status,
    ).toBe(409)
    const refused = await api('PUT', '/api/plugins/example', { enabled: true, config: { suffix: 5 } })
    expect(refused.status).toBe(400)
    expect(refused.body.error.message).toMatch(/config\.suffix: must be string/)
    expect(await answer('[post] hi')).toBe('Echo: [post] hix')
    expect((await api('PUT', '/api/plugins/governance', { enabled: false })).status).toBe(400)
    expect((await api('DELETE', '/api/plugins/governance')).status).toBe(400)
    expect((await api('DELETE', '/api/plugins/example')).status).toBe(200)
  })
})
