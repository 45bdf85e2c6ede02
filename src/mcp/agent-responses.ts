import type {
  ChatMessage,
  ResponsesOutputItem,
  ResponsesRequest,
  ResponsesResponse,
  ResponsesUsage,
  ToolCall,
} from '../core/schemas/index.js'
import { addCounts, withMcpAgent } from './agent.js'

/** The function names a Responses request's own tools define (flat `{type, name}` tools). */
export function ownFunctionNames(req: ResponsesRequest): Set<string> {
  const tools = (req as { tools?: unknown }).tools
  const names = Array.isArray(tools)
    ? tools.flatMap((t: { name?: unknown }) => (typeof t?.name === 'string' ? [t.name] : []))
    : []
  return new Set(names)
}

/** The answer's function calls in chat's shape; undefined when it has none. */
export function functionCalls(output: ResponsesOutputItem[]): ToolCall[] | undefined {
  const calls = output
    .filter((item) => item.type === 'function_call')
    .map((item) => ({
      id: String(item.call_id ?? ''),
      type: 'function' as const,
      function: { name: String(item.name ?? ''), arguments: String(item.arguments ?? '') },
    }))
  return calls.length > 0 ? calls : undefined
}

/** The request's input as a list of items (a string is one user message). */
function inputItems(req: ResponsesRequest): unknown[] {
  const input = (req as { input?: unknown }).input
  if (typeof input === 'string') return [{ role: 'user', content: input }]
  return Array.isArray(input) ? input : []
}

export function addResponsesUsage(
  a: ResponsesUsage | null | undefined,
  b: ResponsesUsage | null | undefined,
): ResponsesUsage | undefined {
  if (!a) return b ?? undefined
  if (!b) return a
  return addCounts(
    a as unknown as Record<string, unknown>,
    b as unknown as Record<string, unknown>,
  ) as unknown as ResponsesUsage
}

/** The next request: the input so far, the answer's output items, one `function_call_output` per call. */
export function responsesFollowUp(
  req: ResponsesRequest,
  output: ResponsesOutputItem[],
  results: ChatMessage[],
): ResponsesRequest {
  const outputs = results.map((m) => ({
    type: 'function_call_output',
    call_id: m.role === 'tool' ? m.tool_call_id : '',
    output: typeof m.content === 'string' ? m.content : JSON.stringify(m.content),
  }))
  return { ...req, input: [...inputItems(req), ...output, ...outputs] } as ResponsesRequest
}

/**
 * A non-streamed Responses request in agent mode, as Bifrost's ExecuteAgentForResponsesRequest:
 * the answer's output items and one `function_call_output` item per call are appended to the
 * input for the next round.
 */
export const responsesWithMcpAgent = withMcpAgent<ResponsesRequest, ResponsesResponse, ResponsesUsage>({
  call: (gateway, c, r) => gateway.responses(c, r),
  ownNames: ownFunctionNames,
  usageOf: (r) => r.body.usage ?? undefined,
  addUsage: addResponsesUsage,
  proposedCalls: (body) => functionCalls(body.output ?? []),
  followUp: (conv, body, results) => responsesFollowUp(conv, body.output ?? [], results),
  withUsage: (r, usage) => ({ body: { ...r.body, ...(usage && { usage }) }, headers: r.headers }),
})
