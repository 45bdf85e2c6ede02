import { parentPort } from 'node:worker_threads'
import { interpret, type SandboxLimits, type SandboxOutcome } from './interpreter.js'

/**
 * A worker thread of the code-mode sandbox (see sandbox.ts): runs one script at a time in a fresh
 * interpreter; each tool call goes to the gateway's thread as a message and comes back the same way.
 */

/** gateway → worker */
export type ToWorker =
  | { type: 'run'; code: string; servers: string[]; limits: SandboxLimits }
  | { type: 'settle'; id: number; ok: true; value: unknown }
  | { type: 'settle'; id: number; ok: false; message: string }

/** worker → gateway */
export type FromWorker =
  | { type: 'call'; id: number; server: string; tool: string; input: unknown }
  | { type: 'ready' }
  | { type: 'done'; outcome: SandboxOutcome }

const port = parentPort
if (port) {
  let nextId = 0
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  const send = (message: FromWorker) => port.postMessage(message)
  port.on('message', (message: ToWorker) => {
    if (message.type === 'settle') {
      const pending = waiting.get(message.id)
      waiting.delete(message.id)
      if (message.ok) pending?.resolve(message.value)
      else pending?.reject(new Error(message.message))
      return
    }
    waiting.clear()
    const call = (server: string, tool: string, input: unknown) =>
      new Promise<unknown>((resolve, reject) => {
        const id = nextId++
        waiting.set(id, { resolve, reject })
        send({ type: 'call', id, server, tool, input })
      })
    const ready = () => send({ type: 'ready' })
    void interpret(message.code, message.servers, call, message.limits, undefined, ready).then((outcome) =>
      send({ type: 'done', outcome }),
    )
  })
}
