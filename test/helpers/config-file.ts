import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { createHeimdall, type Heimdall } from '../../src/http/app.js'
import { callJson } from './heimdall.js'

export interface Started {
  url: string
  heimdall: Heimdall
  warnings: { section?: string; msg: string }[]
  close(): Promise<void>
}

/** Starts Heimdall from a config.json file, as the CLI does, collecting the warnings it logs. */
export async function startFromFile(config: unknown, env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const appDir = await mkdtemp(join(tmpdir(), 'heimdall-bifrost-config-'))
  await writeFile(join(appDir, 'config.json'), JSON.stringify(config))
  const warnings: Started['warnings'] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as { level: number; section?: string; msg: string }
        if (entry.level === 40) warnings.push({ section: entry.section, msg: entry.msg })
      }
      done()
    },
  })
  let heimdall: Heimdall
  try {
    heimdall = await createHeimdall({
      appDir,
      port: 0,
      logger: pino({ level: 'warn' }, sink),
      env: { ...process.env, ...env },
    })
  } catch (err) {
    await rm(appDir, { recursive: true, force: true })
    throw err
  }
  const url = await heimdall.listen()
  return {
    url,
    heimdall,
    warnings,
    async close() {
      await heimdall.close()
      await rm(appDir, { recursive: true, force: true })
    },
  }
}

export const call = (h: Started, method: string, path: string, body?: unknown) =>
  callJson(h.url, method, path, body)
