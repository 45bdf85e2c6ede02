/**
 * What preloading the tokenizers costs and saves (src/governance/pricing/prompt-tokenizer.ts):
 * for a node whose store has a virtual key with a budget, and one without, each in a fresh
 * process: ms from createHeimdall to listening, and ms of the first chat request through the key.
 * `npx tsx bench/tokenizer-preload.ts`.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFakeOpenAI } from '../test/fakes/openai.js'
import { callJson, fakeProvider, startHeimdall } from '../test/helpers/heimdall.js'

const config = (fakeUrl: string) => ({ providers: { openai: fakeProvider(fakeUrl) } })

async function child(appDir: string, fakeUrl: string, vk: string): Promise<void> {
  const started = performance.now()
  const h = await startHeimdall(config(fakeUrl), { appDir })
  const startMs = performance.now() - started
  // As a load balancer would: the first request comes once the node is ready.
  await new Promise((r) => setTimeout(r, 1000))
  const t0 = performance.now()
  const res = await fetch(`${h.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${vk}` },
    body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  })
  await res.arrayBuffer()
  const firstMs = performance.now() - t0
  await h.close()
  process.stdout.write(JSON.stringify({ status: res.status, startMs, firstMs }))
}

async function main(): Promise<void> {
  if (process.argv[2] === 'child') return child(process.argv[3], process.argv[4], process.argv[5])
  const fake = await startFakeOpenAI()
  for (const budget of [true, false]) {
    const appDir = await mkdtemp(join(tmpdir(), 'heimdall-preload-'))
    const setup = await startHeimdall(config(fake.url), { appDir })
    const created = await callJson(setup.url, 'POST', '/api/governance/virtual-keys', {
      name: 'bench',
      provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
      ...(budget && { budgets: [{ max_limit: 100, reset_duration: '1d' }] }),
    })
    await setup.close()
    const runs = []
    for (let i = 0; i < 3; i++) {
      // Not execFileSync: the fake upstream answers from this process.
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', import.meta.filename, 'child', appDir, fake.url, created.body.virtual_key.value],
        { encoding: 'utf8' },
      )
      runs.push(JSON.parse(stdout) as { status: number; startMs: number; firstMs: number })
    }
    const med = (xs: number[]) => xs.sort((a, b) => a - b)[1].toFixed(0)
    console.log(
      `${budget ? 'a key with a budget' : 'no budget        '}: start ${med(runs.map((r) => r.startMs))} ms, ` +
        `first request ${med(runs.map((r) => r.firstMs))} ms (medians of 3; statuses ${runs.map((r) => r.status).join(',')})`,
    )
    await rm(appDir, { recursive: true, force: true })
  }
  await fake.close()
}

await main()
