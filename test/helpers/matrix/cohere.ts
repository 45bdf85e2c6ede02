import { type Cohere, CohereClientV2 } from 'cohere-ai'
import { parse, QUESTION, RESULTS, TOOL_NAMES, TOOL_SCHEMA, type Neutral, type Route } from './route.js'

/** /cohere/v2/chat through the Cohere SDK, on the gateway at `gateway()`. */
export function cohereRoute(gateway: () => string): Route {
  return {
    name: '/cohere/v2/chat',
    finish: { tools: 'TOOL_CALL', stop: 'COMPLETE' },
    signs: false,
    signsCalls: false,
    async converse(model, stream) {
      const co = new CohereClientV2({ token: 'unused', environment: `${gateway()}/cohere`, maxRetries: 0 })
      const tools: Cohere.ToolV2[] = TOOL_NAMES.map((name) => ({
        type: 'function',
        function: { name, parameters: TOOL_SCHEMA },
      }))
      interface Answer {
        text: string
        thinking: string
        plan: string
        calls: { id: string; name: string; arguments: string }[]
        finish: string
        usage: { input: number; output: number }
      }
      const ask = async (messages: Cohere.ChatMessageV2[]): Promise<Answer> => {
        const params = { model, messages, tools, thinking: { type: 'enabled' as const } }
        if (!stream) {
          const res = await co.chat(params)
          const content = res.message.content ?? []
          return {
            text: content.map((c) => (c.type === 'text' ? c.text : '')).join(''),
            thinking: content.map((c) => (c.type === 'thinking' ? c.thinking : '')).join(''),
            plan: res.message.toolPlan ?? '',
            calls: (res.message.toolCalls ?? []).map((c) => ({
              id: c.id ?? '',
              name: c.function?.name ?? '',
              arguments: c.function?.arguments ?? '',
            })),
            finish: res.finishReason,
            usage: {
              input: res.usage?.tokens?.inputTokens ?? -1,
              output: res.usage?.tokens?.outputTokens ?? -1,
            },
          }
        }
        const a: Answer = {
          text: '',
          thinking: '',
          plan: '',
          calls: [],
          finish: '',
          usage: { input: -1, output: -1 },
        }
        for await (const ev of await co.chatStream(params)) {
          if (ev.type === 'content-delta') {
            a.text += ev.delta?.message?.content?.text ?? ''
            a.thinking += ev.delta?.message?.content?.thinking ?? ''
          } else if (ev.type === 'tool-plan-delta') a.plan += ev.delta?.message?.toolPlan ?? ''
          else if (ev.type === 'tool-call-start') {
            const c = ev.delta?.message?.toolCalls
            a.calls[ev.index ?? a.calls.length] = {
              id: c?.id ?? '',
              name: c?.function?.name ?? '',
              arguments: c?.function?.arguments ?? '',
            }
          } else if (ev.type === 'tool-call-delta') {
            const c = a.calls[ev.index ?? a.calls.length - 1]
            if (c) c.arguments += ev.delta?.message?.toolCalls?.function?.arguments ?? ''
          } else if (ev.type === 'message-end') {
            a.finish = ev.delta?.finishReason ?? ''
            const t = ev.delta?.usage?.tokens
            a.usage = { input: t?.inputTokens ?? -1, output: t?.outputTokens ?? -1 }
          }
        }
        return a
      }
      // The gateway carries an answer's text beside tool calls as Cohere's tool_plan.
      const neutral = (a: Answer): Neutral => ({
        text: a.text + a.plan,
        thinking: a.thinking,
        toolCalls: a.calls.map((c) => ({ name: c.name, args: parse(c.arguments) })),
        finish: a.finish,
        usage: a.usage,
      })
      const user: Cohere.ChatMessageV2 = { role: 'user', content: QUESTION }
      const first = await ask([user])
      const second = await ask([
        user,
        {
          role: 'assistant',
          ...(first.thinking && { content: [{ type: 'thinking' as const, thinking: first.thinking }] }),
          ...(first.plan && { toolPlan: first.plan }),
          toolCalls: first.calls.map((c) => ({
            id: c.id,
            type: 'function' as const,
            function: { name: c.name, arguments: c.arguments },
          })),
        },
        ...first.calls.map((c, i) => ({ role: 'tool' as const, toolCallId: c.id, content: RESULTS[i] })),
      ])
      return [neutral(first), neutral(second)]
    },
  }
}
