import type { ResponsesStreamItem } from '../core/provider-adapter.js'
import type {
  ResponsesOutputItem,
  ResponsesRequest,
  ResponsesResponse,
  ResponsesUsage,
} from '../core/schemas/index.js'
import { AgentRounds } from './agent.js'
import { addResponsesUsage, functionCalls, ownFunctionNames, responsesFollowUp } from './agent-responses.js'
import {
  MCP_AGENT_COST_FIELD,
  MCP_AGENT_ROUNDS_FIELD,
  withMcpAgentStream,
  type AgentStreamStart,
} from './agent-stream.js'

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed'])

/**
 * A streamed Responses request in agent mode: one event stream across rounds. Events of the
 * answer's function-call items and its terminal event are held; the others go to the caller as
 * they come (later rounds without their own `response.created`/`in_progress`, their output
 * indexes after the items already sent, every event renumbered). When the round's calls may all
 * run here, they run, the held events are dropped and the next round follows. Otherwise the held
 * events are released and the terminal event ends the stream, its response carrying every item
 * sent, the first round's id and, after one round or more, every round's usage and the rounds.
 */
export const responsesStreamWithMcpAgent = withMcpAgentStream<ResponsesRequest, ResponsesStreamItem>(
  (gateway, ctx, req) => gateway.responsesStream(ctx, req),
  ownFunctionNames,
  responsesRounds,
)

async function* responsesRounds(
  start: AgentStreamStart<ResponsesRequest, ResponsesStreamItem>,
): AsyncGenerator<ResponsesStreamItem> {
  const { gateway, ctx, req, opts, own, maxDepth } = start
  let stream = start.first
  const loop = new AgentRounds<ResponsesRequest, ResponsesUsage>(ctx, req, opts, own, addResponsesUsage)
  let sequence = 0
  let responseId: string | undefined
  // Output items of earlier rounds that the caller has seen (text, reasoning; not the calls run).
  const sent: ResponsesOutputItem[] = []
  const numbered = (item: ResponsesStreamItem) => {
    item.event.sequence_number = sequence++
    return item
  }
  for (;;) {
    const held: ResponsesStreamItem[] = []
    const callIndexes = new Set<number>()
    const offset = sent.length
    let terminal: ResponsesStreamItem | undefined
    for await (const item of stream.items) {
      const ev = item.event
      const response = ev.response as ResponsesResponse | undefined
      if (response && typeof response.id === 'string') {
        responseId ??= response.id
        response.id = responseId
      }
      if (loop.rounds > 0 && (ev.type === 'response.created' || ev.type === 'response.in_progress')) continue
      if (TERMINAL.has(ev.type)) {
        terminal = item
        continue
      }
      if (typeof ev.output_index === 'number') ev.output_index += offset
      const added = ev.item as ResponsesOutputItem | undefined
      if (ev.type === 'response.output_item.added' && added?.type === 'function_call')
        callIndexes.add(ev.output_index as number)
      if (typeof ev.output_index === 'number' && callIndexes.has(ev.output_index)) held.push(item)
      else yield numbered(item)
    }
    const final = terminal?.event.response as ResponsesResponse | undefined
    const output = final?.output ?? []
    loop.count(final?.usage ?? undefined)
    const calls = final?.status === 'completed' ? loop.callsToRun(functionCalls(output), maxDepth) : undefined
    if (!calls || !terminal || !final) {
      for (const item of held) yield numbered(item)
      if (!terminal || !final) return
      final.output = [...sent, ...output]
      if (loop.rounds > 0) {
        if (loop.usage) final.usage = loop.usage
        final[MCP_AGENT_ROUNDS_FIELD] = loop.rounds
        if (loop.cost !== undefined) final[MCP_AGENT_COST_FIELD] = Number(loop.cost.toFixed(8))
      }
      yield numbered(terminal)
      return
    }
    sent.push(...output.filter((item) => item.type !== 'function_call'))
    await loop.advance(calls, (conversation, results) => responsesFollowUp(conversation, output, results))
    stream = await gateway.responsesStream(loop.current, loop.conversation)
  }
}
