import Anthropic from '@anthropic-ai/sdk'
import { QUESTION, RESULTS, TOOL_NAMES, TOOL_SCHEMA, type Neutral, type Route } from './route.js'

/** /anthropic/v1/messages through the Anthropic SDK, on the gateway at `gateway()`. */
export function anthropicRoute(gateway: () => string): Route {
  return {
    name: '/anthropic/v1/messages',
    finish: { tools: 'tool_use', stop: 'end_turn' },
    signs: true,
    signsCalls: false,
    async converse(model, stream) {
      const client = new Anthropic({ baseURL: `${gateway()}/anthropic`, apiKey: 'sk-unused', maxRetries: 0 })
      const tools: Anthropic.Tool[] = TOOL_NAMES.map((name) => ({
        name,
        input_schema: TOOL_SCHEMA as Anthropic.Tool.InputSchema,
      }))
      const ask = async (messages: Anthropic.MessageParam[]): Promise<Anthropic.Message> => {
        const params = {
          model,
          max_tokens: 4096,
          thinking: { type: 'enabled' as const, budget_tokens: 2048 },
          tools,
          messages,
        }
        return stream ? client.messages.stream(params).finalMessage() : client.messages.create(params)
      }
      const neutral = (m: Anthropic.Message): Neutral => ({
        text: m.content.map((b) => (b.type === 'text' ? b.text : '')).join(''),
        thinking: m.content.map((b) => (b.type === 'thinking' ? b.thinking : '')).join(''),
        toolCalls: m.content.flatMap((b) => (b.type === 'tool_use' ? [{ name: b.name, args: b.input }] : [])),
        finish: m.stop_reason ?? '',
        usage: {
          input:
            m.usage.input_tokens +
            (m.usage.cache_read_input_tokens ?? 0) +
            (m.usage.cache_creation_input_tokens ?? 0),
          output: m.usage.output_tokens,
        },
      })
      const user: Anthropic.MessageParam = { role: 'user', content: QUESTION }
      const first = await ask([user])
      const uses = first.content.flatMap((b) => (b.type === 'tool_use' ? [b] : []))
      const second = await ask([
        user,
        // The whole answer goes back, thinking block and its signature included, as the API requires.
        { role: 'assistant', content: first.content as Anthropic.ContentBlockParam[] },
        {
          role: 'user',
          content: uses.map((u, i) => ({
            type: 'tool_result' as const,
            tool_use_id: u.id,
            content: RESULTS[i],
          })),
        },
      ])
      return [neutral(first), neutral(second)]
    },
  }
}
