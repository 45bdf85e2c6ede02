import { setTimeout as sleep } from 'node:timers/promises'
import { backends } from './databases.js'
import type { RunningHeimdall } from './heimdall.js'

/** Dollars per token, for prices written per million tokens. */
export const PER_MILLION = 1e-6

/** A fresh SQLite log store written every 10 ms, so that a test reads a request's entry at once. */
export async function quickLogStore(label: string): Promise<Record<string, unknown>> {
  return { ...(await backends(label)[0].fresh()), flush_interval_ms: 10 }
}

/** Reads the cost of each request's log entry in turn (requests made one at a time). */
export class LoggedCosts {
  private count = 0
  constructor(private readonly gw: () => RunningHeimdall) {}

  /** The cost of the newest entry, once the request just made is logged. */
  async next(): Promise<number> {
    this.count++
    for (let i = 0; i < 200; i++) {
      const body = (await (await fetch(`${this.gw().url}/api/logs?limit=1`)).json()) as {
        pagination?: { total_count: number }
        logs: { cost: number }[]
      }
      if ((body.pagination?.total_count ?? 0) >= this.count) return body.logs[0].cost
      await sleep(25)
    }
    throw new Error(`no log entry number ${this.count}`)
  }
}
