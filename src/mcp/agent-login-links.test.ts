import { describe, expect, it } from 'vitest'
import { Cancellation } from '../core/cancel.js'
import { createContext } from '../core/context.js'
import { GatewayError } from '../core/errors.js'
import { runCalls, roundContext } from './agent.js'
import { loginPath } from './oauth-client/index.js'
import type { McpTool, McpToolSource } from './types.js'

const tool: McpTool = { name: 'secure-greet', client: 'secure', toolName: 'greet', inputSchema: {} }

/** A per-user OAuth client that needs the caller's login: its error carries a relative login link. */
const source: McpToolSource = {
  listTools: () => [tool],
  callTool: () =>
    Promise.reject(
      new GatewayError(
        'unauthorized',
        `MCP client secure needs you to log in: open ${loginPath('f1')}, then call the tool again`,
        {
          type: 'mcp_auth_required',
        },
      ),
    ),
  autoExecutes: () => true,
  onChange: () => () => {},
}

describe('agent-mode tool results', () => {
  it('carry login links absolute on the origin the caller used, in later rounds too', async () => {
    const ctx = createContext({
      requestId: 'r1',
      requestType: 'chat_completion',
      signal: new Cancellation(),
      headers: {},
      modelRequested: 'openai/gpt-4o-mini',
    })
    ctx.facts.requestOrigin = 'http://127.0.0.1:8080'
    const next = roundContext(ctx)
    const call = { id: 'call_1', type: 'function' as const, function: { name: tool.name, arguments: '{}' } }
    for (const round of [ctx, next]) {
      const [message] = await runCalls(source, round, roundContext(round), [{ call, tool, args: {} }], 1000)
      expect(message.content).toContain(`open http://127.0.0.1:8080${loginPath('f1')}, then`)
    }
  })
})
