// What the request-log benchmarks (log-cpu.ts, log-event-loop.ts) feed the log queue, and how they
// read the main thread's CPU.
import { readFileSync } from 'node:fs'
import type { PendingLog } from '../src/observability/logs/entry.js'
import { completionBody } from './fake-answers.js'

/** CPU µs of this process's main thread alone (Linux: /proc/self/task/<pid>/stat, 100 Hz ticks). */
export function mainThreadCpu(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

const answer = completionBody.toString()

/** A finished chat request as the logging hook queues it (bodies on), its texts varying with n. */
export function benchPendingLog(n: number): PendingLog {
  const question = `Say hello to user ${n} and tell them about item ${(n * 7919) % 10007}`
  return {
    row: {
      id: `01a24a9b-${String(n).padStart(4, '0').slice(-4)}-7000-8000-${String(n).padStart(12, '0')}`,
      client_request_id: null,
      ts: Date.now(),
      object: 'chat_completion',
      route: '/v1/chat/completions',
      provider: 'openai',
      model: 'gpt-4o-mini',
      status: 'success',
      stream: 0,
      fallback_index: 0,
      number_of_retries: 0,
      selected_key_id: '49ca88b5-8599-5d5f-8a07-7077a200c7e6',
      selected_key_name: 'bench',
      virtual_key_id: null,
      virtual_key_name: null,
      team_id: null,
      team_name: null,
      customer_id: null,
      customer_name: null,
      latency: 1.5 + (n % 13),
      ttft: null,
      prompt_tokens: 9,
      completion_tokens: 9,
      total_tokens: 18,
      cached_tokens: 0,
      reasoning_tokens: 0,
      cost: 0.00000675,
      cost_estimated: 0,
      error: null,
      attempts: `[{"provider":"openai","model":"gpt-4o-mini","key_id":"49ca88b5-8599-5d5f-8a07-7077a200c7e6","fallback_index":0,"latency":${n % 17}}]`,
      input: null,
      output: null,
      content_summary: question,
      content_truncated: 0,
    },
    inputText: `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"${question}"}]}`,
    outputText: answer.replace('chatcmpl-', `chatcmpl-${n}`),
    secrets: ['sk-anything'],
  }
}
