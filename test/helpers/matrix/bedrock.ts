import {
  ConverseCommand,
  ConverseStreamCommand,
  type ContentBlock,
  type Message as BedrockMessage,
  type ConverseStreamOutput,
} from '@aws-sdk/client-bedrock-runtime'
import { parse, QUESTION, RESULTS, TOOL_NAMES, TOOL_SCHEMA, type Neutral, type Route } from './route.js'
import { bedrockCaller } from '../bedrock-caller.js'

/** Folds a ConverseStream into the content blocks, stop reason and usage Converse would return. */
async function foldConverseStream(events: AsyncIterable<ConverseStreamOutput>) {
  const blocks = new Map<number, ContentBlock & { json?: string }>()
  let stopReason = ''
  let usage = { input: -1, output: -1 }
  for await (const e of events) {
    if (e.contentBlockStart?.start?.toolUse) {
      const t = e.contentBlockStart.start.toolUse
      blocks.set(e.contentBlockStart.contentBlockIndex ?? 0, {
        toolUse: { toolUseId: t.toolUseId, name: t.name, input: {} },
        json: '',
      })
    }
    const d = e.contentBlockDelta?.delta
    if (d) {
      const i = e.contentBlockDelta?.contentBlockIndex ?? 0
      const b = blocks.get(i)
      if (d.text !== undefined) {
        if (b?.text !== undefined) b.text += d.text
        else blocks.set(i, { text: d.text })
      } else if (d.toolUse && b) b.json = (b.json ?? '') + (d.toolUse.input ?? '')
      else if (d.reasoningContent) {
        const r = b?.reasoningContent?.reasoningText ?? { text: '' }
        if (d.reasoningContent.text) r.text = (r.text ?? '') + d.reasoningContent.text
        if (d.reasoningContent.signature) r.signature = d.reasoningContent.signature
        if (!b) blocks.set(i, { reasoningContent: { reasoningText: r } })
      }
    }
    if (e.messageStop) stopReason = e.messageStop.stopReason ?? ''
    if (e.metadata?.usage)
      usage = { input: e.metadata.usage.inputTokens ?? -1, output: e.metadata.usage.outputTokens ?? -1 }
  }
  const content: ContentBlock[] = [...blocks.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, b]) => {
      const { json, ...block } = b
      if (block.toolUse && json !== undefined) block.toolUse.input = parse(json) as never
      return block as ContentBlock
    })
  return { content, stopReason, usage }
}

/** /bedrock/model/converse through the AWS SDK, on the gateway at `gateway()`. */
export function bedrockRoute(gateway: () => string): Route {
  return {
    name: '/bedrock/model/converse',
    finish: { tools: 'tool_use', stop: 'end_turn' },
    signs: true,
    signsCalls: false,
    async converse(model, stream) {
      const client = bedrockCaller(`${gateway()}/bedrock`)
      const toolConfig = {
        tools: TOOL_NAMES.map((name) => ({
          toolSpec: { name, inputSchema: { json: TOOL_SCHEMA as never } },
        })),
      }
      const ask = async (messages: BedrockMessage[]) => {
        const input = {
          modelId: model,
          messages,
          toolConfig,
          additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 2048 } },
        }
        if (stream) {
          const res = await client.send(new ConverseStreamCommand(input))
          if (!res.stream) throw new Error('ConverseStream answered without a stream')
          return foldConverseStream(res.stream)
        }
        const res = await client.send(new ConverseCommand(input))
        return {
          content: res.output?.message?.content ?? [],
          stopReason: res.stopReason ?? '',
          usage: { input: res.usage?.inputTokens ?? -1, output: res.usage?.outputTokens ?? -1 },
        }
      }
      const neutral = (a: Awaited<ReturnType<typeof ask>>): Neutral => ({
        text: a.content.map((b) => b.text ?? '').join(''),
        thinking: a.content.map((b) => b.reasoningContent?.reasoningText?.text ?? '').join(''),
        toolCalls: a.content.flatMap((b) =>
          b.toolUse ? [{ name: b.toolUse.name ?? '', args: b.toolUse.input }] : [],
        ),
        finish: a.stopReason,
        usage: a.usage,
      })
      try {
        const user: BedrockMessage = { role: 'user', content: [{ text: QUESTION }] }
        const first = await ask([user])
        const uses = first.content.flatMap((b) => (b.toolUse ? [b.toolUse] : []))
        const second = await ask([
          user,
          { role: 'assistant', content: first.content },
          {
            role: 'user',
            content: uses.map((u, i) => ({
              toolResult: { toolUseId: u.toolUseId, content: [{ text: RESULTS[i] }] },
            })),
          },
        ])
        return [neutral(first), neutral(second)]
      } finally {
        client.destroy()
      }
    },
  }
}
