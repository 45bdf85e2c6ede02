import type { GatewayContext } from '../core/context.js'
import type { Gateway } from '../core/gateway.js'
import type { ChatStreamItem, StreamResult } from '../core/provider-adapter.js'
import type { ChatChunk, ChatMessage, ChatRequest, ToolCall, Usage } from '../core/schemas/index.js'
import {
  addUsage,
  AgentRounds,
  agentDepth,
  ownToolNames,
  type McpAgentEntry,
  type McpAgentOptions,
} from './agent.js'

/**
 * Fields of the stream's last chunk after one round of tools or more (a header cannot say it:
 * a stream's headers leave before the first round ends).
 */
export const MCP_AGENT_ROUNDS_FIELD = 'mcp_agent_rounds'
export const MCP_AGENT_COST_FIELD = 'mcp_agent_cost_usd'

/** One round's stream read so far: the tool calls it assembled and the chunks held back. */
interface Round {
  held: ChatChunk[]
  calls: Map<number, ToolCall>
  /** More than one choice: the answer is the caller's, as in the non-streamed loop. */
  multi: boolean
  content: string
  usage?: Usage
}

function chunkOf(item: ChatStreamItem): ChatChunk | undefined {
  if (item.chunk) return item.chunk
  return item.data === undefined ? undefined : (JSON.parse(item.data) as ChatChunk)
}

/** Adds a chunk's content and tool-call deltas to the calls being assembled (a name or arguments come in pieces). */
function collectCalls(round: Round, chunk: ChatChunk): void {
  for (const choice of chunk.choices) {
    if (choice.index !== 0) round.multi = true
    if (typeof choice.delta?.content === 'string') round.content += choice.delta.content
    for (const d of choice.delta?.tool_calls ?? []) {
      const call = round.calls.get(d.index) ?? {
        id: '',
        type: 'function' as const,
        function: { name: '', arguments: '' },
      }
      if (d.id) call.id = d.id
      call.function.name += d.function?.name ?? ''
      call.function.arguments += d.function?.arguments ?? ''
      round.calls.set(d.index, call)
    }
  }
}

/** True once the round's answer has started calling tools or is finishing: from there on, chunks wait. */
function startsHolding(chunk: ChatChunk): boolean {
  return chunk.choices.some((c) => (c.delta?.tool_calls?.length ?? 0) > 0 || c.finish_reason != null)
}

/**
 * A streamed chat completion in agent mode: one SSE stream across rounds. Each round's content
 * deltas go to the caller as they come; its tool-call deltas, finish chunk and usage chunk are
 * held. When the round ends calling only tools that may run here (as in the non-streamed loop),
 * they run, the held chunks are dropped and the next round's stream follows in the same
 * response, its chunks under the first round's id. Otherwise the held chunks are released and
 * the stream ends; after one round or more, the usage is every round's and the last chunk says
 * how many rounds ran and what they cost. An error in a later round is thrown from the items,
 * so that the relay ends the stream with an error event.
 */
export const chatStreamWithMcpAgent = withMcpAgentStream<ChatRequest, ChatStreamItem>(
  (gateway, ctx, req) => gateway.chatStream(ctx, req),
  ownToolNames,
  chatRounds,
)

/** Where a streamed agent loop stands before its first round is read. */
export interface AgentStreamStart<Req, Item> {
  gateway: Gateway
  ctx: GatewayContext
  req: Req
  opts: McpAgentOptions
  /** The names of the request's own tools (read before the injection hook added the MCP tools). */
  own: Set<string>
  maxDepth: number
  /** The first round's stream, open. */
  first: StreamResult<Item>
}

/**
 * Agent mode for one API's streams: the provider's stream as it came when no round may run here;
 * otherwise one stream across rounds, made by `rounds` from the first round's.
 */
export function withMcpAgentStream<Req, Item>(
  open: (gateway: Gateway, ctx: GatewayContext, req: Req) => Promise<StreamResult<Item>>,
  ownNames: (req: Req) => Set<string>,
  rounds: (start: AgentStreamStart<Req, Item>) => AsyncGenerator<Item>,
): McpAgentEntry<Req, StreamResult<Item>> {
  return async (gateway, ctx, req, opts) => {
    const maxDepth = agentDepth(opts)
    if (maxDepth === 0) return open(gateway, ctx, req)
    // Items must be read to find tool calls: no byte-for-byte frames in agent mode.
    ctx.passthrough = false
    // Read before the first call: the injection hook adds the MCP tools to req.tools.
    const own = ownNames(req)
    const first = await open(gateway, ctx, req)
    return { items: rounds({ gateway, ctx, req, opts, own, maxDepth, first }), headers: first.headers }
  }
}

async function* chatRounds(
  start: AgentStreamStart<ChatRequest, ChatStreamItem>,
): AsyncGenerator<ChatStreamItem> {
  const { gateway, ctx, req, opts, own, maxDepth } = start
  let stream = start.first
  const loop = new AgentRounds(ctx, req, opts, own, addUsage)
  let id: string | undefined
  for (;;) {
    const round: Round = { held: [], calls: new Map(), multi: false, content: '' }
    for await (const item of stream.items) {
      const chunk = chunkOf(item)
      if (!Array.isArray(chunk?.choices)) {
        yield item
        continue
      }
      id ??= chunk.id
      chunk.id = id
      if (item.usage) round.usage = item.usage
      collectCalls(round, chunk)
      if (round.held.length > 0 || item.usage || startsHolding(chunk)) round.held.push(chunk)
      else yield { chunk }
    }
    loop.count(round.usage)
    const proposed = round.multi ? undefined : [...round.calls.values()]
    const calls = loop.callsToRun(proposed, maxDepth)
    if (!calls) {
      yield* release(round.held, loop.rounds, loop.usage, loop.cost)
      return
    }
    const content = round.content === '' ? null : round.content
    const assistant: ChatMessage = { role: 'assistant', content, tool_calls: proposed }
    await loop.advance(calls, (conversation, results) => ({
      ...conversation,
      messages: [...conversation.messages, assistant, ...results],
    }))
    stream = await gateway.chatStream(loop.current, loop.conversation)
  }
}

/**
 * The last round's held chunks, their usage replaced by every round's; after one round or more
 * the last chunk with choices (the finish chunk, sent whether or not usage is) says the rounds.
 */
function* release(
  held: ChatChunk[],
  rounds: number,
  usage: Usage | undefined,
  cost: number | undefined,
): Generator<ChatStreamItem> {
  const last = held.findLastIndex((c) => c.choices.length > 0)
  for (let i = 0; i < held.length; i++) {
    const chunk = held[i]
    const carries = chunk.usage != null
    if (carries && usage) chunk.usage = usage
    if (rounds > 0 && i === last) {
      chunk[MCP_AGENT_ROUNDS_FIELD] = rounds
      if (cost !== undefined) chunk[MCP_AGENT_COST_FIELD] = Number(cost.toFixed(8))
    }
    yield carries
      ? { chunk, usage: chunk.usage ?? undefined, usageOnly: chunk.choices.length === 0 }
      : { chunk }
  }
}
