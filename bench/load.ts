// The three things done to a target: check one answer, saturate it, and hold it at a fixed rate.
import autocannon from 'autocannon'
import { Pool } from 'undici'
import { openCpuWindow } from './cpu.js'
import { completionContent, streamedContent } from './fake-answers.js'

export type Mode = 'non-streaming' | 'streaming'
export const MODES: readonly Mode[] = ['non-streaming', 'streaming']

export interface LoadTarget {
  name: string
  origin: string
  headers: Record<string, string>
  /** The process whose CPU is charged to this target. */
  cpuPid: number
  /** The fake upstream's process: its CPU, like the client's, is not counted as other load. */
  upstreamPid: number
  /** Heimdall's Prometheus endpoint, read for the event loop's delay. */
  metricsUrl?: string
}

function ownPids(target: LoadTarget): number[] {
  return [process.pid, target.cpuPid, target.upstreamPid]
}

export const CHAT_PATH = '/v1/chat/completions'
const REQUEST_TIMEOUT_MS = 10_000

export function requestBody(mode: Mode): string {
  const stream = mode === 'streaming' ? ',"stream":true' : ''
  return `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]${stream}}`
}

function requestHeaders(target: LoadTarget): Record<string, string> {
  return { 'content-type': 'application/json', ...target.headers }
}

interface ChunkShape {
  choices?: { delta?: { content?: string } }[]
}
interface CompletionShape {
  choices?: { message?: { content?: string } }[]
  usage?: { total_tokens?: number }
}

export interface AnswerCheck {
  /** The HTTP status, or undefined when no answer came. */
  status: number | undefined
  /** What differs from what the fake upstream sent, if anything. */
  problem?: string
}

/** Sends one request and checks that the fake's answer came through intact. */
export async function verifyAnswer(target: LoadTarget, mode: Mode): Promise<AnswerCheck> {
  let res: Response
  try {
    res = await fetch(target.origin + CHAT_PATH, {
      method: 'POST',
      headers: requestHeaders(target),
      body: requestBody(mode),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
  } catch (err) {
    return { status: undefined, problem: `request failed: ${(err as Error).message}` }
  }
  const text = await res.text()
  const check = (problem?: string): AnswerCheck => ({ status: res.status, problem })
  if (res.status !== 200) return check(`status ${res.status}: ${text.slice(0, 300)}`)
  try {
    if (mode === 'non-streaming') {
      const body = JSON.parse(text) as CompletionShape
      if (body.choices?.[0]?.message?.content !== completionContent)
        return check('content differs from upstream')
      return check(body.usage?.total_tokens ? undefined : 'usage missing')
    }
    const data = text
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trim())
    if (data.at(-1) !== '[DONE]') return check('stream does not end with data: [DONE]')
    const content = data
      .slice(0, -1)
      .map((payload) => (JSON.parse(payload) as ChunkShape).choices?.[0]?.delta?.content ?? '')
      .join('')
    return check(content === streamedContent ? undefined : 'streamed content differs from upstream')
  } catch (err) {
    return check(`unparseable answer: ${(err as Error).message}`)
  }
}

export interface Failures {
  errors: number
  timeouts: number
  non2xx: number
  /** Status code → count, for everything that was answered. */
  statusCodes: Record<string, number>
}

interface Measured {
  /** Cores used by the rest of the machine meanwhile: above ~0.2 the figures are skewed. */
  otherCores: number
}

export interface SaturationResult extends Failures, Measured {
  completed: number
  requestsPerSecond: number
  cpuMicrosPerRequest: number
}

/** Closed loop at `connections` concurrent requests for `seconds`: the most the target can serve. */
export async function saturate(
  target: LoadTarget,
  mode: Mode,
  options: { seconds: number; connections: number },
): Promise<SaturationResult> {
  const closeWindow = openCpuWindow(ownPids(target))
  const result = await autocannon({
    url: target.origin + CHAT_PATH,
    method: 'POST',
    headers: requestHeaders(target),
    body: requestBody(mode),
    connections: options.connections,
    pipelining: 1,
    duration: options.seconds,
    timeout: REQUEST_TIMEOUT_MS / 1000,
  })
  const cpu = closeWindow()
  const completed = result.requests.total
  const statusCodes: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count
  return {
    completed,
    requestsPerSecond: completed / result.duration,
    cpuMicrosPerRequest: completed > 0 ? cpu.spentBy(target.cpuPid) / completed : NaN,
    otherCores: cpu.otherCores,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
  }
}

/** Mean, median and 99th percentile of some durations, in ms. */
export interface Spread {
  count: number
  meanMs: number
  p50Ms: number
  p99Ms: number
}

export interface FixedRateResult extends Failures, Measured {
  sent: number
  meanMs: number
  p50Ms: number
  p99Ms: number
  cpuMicrosPerRequest: number
  /** Heimdall's `x-heimdall-overhead-ms` on the answers, for a target that sends it. */
  overheadHeader?: Spread
}

/** The header in which Heimdall says how long it spent on a request itself. */
export const OVERHEAD_HEADER = 'x-heimdall-overhead-ms'

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]
}

function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((sum, v) => sum + v, 0) / values.length
}

function spreadOf(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    count: sorted.length,
    meanMs: mean(sorted),
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  }
}

/**
 * Open loop: one request every 1/rate s, each timed to its last byte with sub-millisecond precision.
 * autocannon's `overallRate` is not used here: it fires each connection's share of a second in one
 * burst at the top of the second and keeps latencies in whole milliseconds, which hides a proxy's cost.
 */
export async function holdFixedRate(
  target: LoadTarget,
  mode: Mode,
  options: { seconds: number; rate: number; connections: number },
): Promise<FixedRateResult> {
  const pool = new Pool(target.origin, {
    connections: options.connections,
    keepAliveTimeout: 30_000,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  })
  const headers = requestHeaders(target)
  const body = requestBody(mode)
  const latencies: number[] = []
  const overheads: number[] = []
  const failures: Failures = { errors: 0, timeouts: 0, non2xx: 0, statusCodes: {} }
  const inFlight = new Set<Promise<void>>()

  const sendOne = async (): Promise<void> => {
    const startedAt = performance.now()
    try {
      const res = await pool.request({ path: CHAT_PATH, method: 'POST', headers, body })
      await res.body.arrayBuffer()
      const code = String(res.statusCode)
      failures.statusCodes[code] = (failures.statusCodes[code] ?? 0) + 1
      if (res.statusCode >= 200 && res.statusCode < 300) {
        latencies.push(performance.now() - startedAt)
        const overhead = res.headers[OVERHEAD_HEADER]
        if (typeof overhead === 'string') overheads.push(Number(overhead))
      } else failures.non2xx++
    } catch (err) {
      if ((err as { code?: string }).code?.includes('TIMEOUT')) failures.timeouts++
      else failures.errors++
    }
  }

  const total = Math.max(1, Math.round(options.rate * options.seconds))
  const intervalMs = 1000 / options.rate
  const closeWindow = openCpuWindow(ownPids(target))
  const startedAt = performance.now()
  let sent = 0
  await new Promise<void>((resolve) => {
    const dispatchDue = (): void => {
      const due = Math.min(total, Math.floor((performance.now() - startedAt) / intervalMs) + 1)
      for (; sent < due; sent++) {
        const request = sendOne()
        inFlight.add(request)
        void request.then(() => inFlight.delete(request))
      }
      if (sent >= total) resolve()
      else setTimeout(dispatchDue, Math.max(0, startedAt + sent * intervalMs - performance.now()))
    }
    dispatchDue()
  })
  await Promise.all(inFlight)
  const cpu = closeWindow()
  await pool.close()

  const { meanMs, p50Ms, p99Ms } = spreadOf(latencies)
  return {
    ...failures,
    sent,
    meanMs,
    p50Ms,
    p99Ms,
    cpuMicrosPerRequest: sent > 0 ? cpu.spentBy(target.cpuPid) / sent : NaN,
    otherCores: cpu.otherCores,
    overheadHeader: overheads.length > 0 ? spreadOf(overheads) : undefined,
  }
}
