import Anthropic from '@anthropic-ai/sdk'
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type ContentBlock,
  type Message as BedrockMessage,
  type ConverseStreamOutput,
} from '@aws-sdk/client-bedrock-runtime'
import { GoogleGenAI, type Content, type GenerateContentResponse, type Part } from '@google/genai'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { type Cohere, CohereClientV2 } from 'cohere-ai'
import { generateKeyPairSync } from 'node:crypto'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeAzure, type FakeAzure } from './fakes/azure.js'
import { startFakeBedrock } from './fakes/bedrock.js'
import { startFakeCohere } from './fakes/cohere.js'
import { startFakeGemini } from './fakes/gemini.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer, ReportedAnswer } from './fakes/server.js'
import { startFakeGoogleCloud, type FakeGoogleCloud } from './fakes/vertex.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * The any-to-any matrix: one conversation (a question with two tools offered and thinking asked
 * for in the route's own way, answered by a thinking block and two parallel tool calls; then the
 * tool results, answered by text) through every (route, provider) pair, streamed and not, each
 * route driven by its official SDK. Whatever the pair, the client must see what the provider
 * said: the text, the thinking (where the provider has some), the calls, the usage, and the finish
 * reason in the route's own words.
 */

/** What a client makes of one answer, whatever the route. */
interface Neutral {
  text: string
  thinking: string
  toolCalls: { name: string; args: unknown }[]
  finish: string
  usage: { input: number; output: number }
}

interface Route {
  name: string
  /** The finish reasons the route's SDK reports after tool calls, and after text. */
  finish: { tools: string; stop: string }
  /** Whether the route's format can carry a thinking block's signature back (Cohere's cannot). */
  signs: boolean
  /** Whether it can carry a signature on a tool call (Gemini's thoughtSignature on functionCall). */
  signsCalls: boolean
  /** Turn 1 and turn 2 of the conversation, with the tool results sent back in the route's format. */
  converse(model: string, stream: boolean): Promise<[Neutral, Neutral]>
}

const QUESTION = 'What is the weather and the time in Paris and Tokyo?'
const RESULTS = ['21C', '14:00']
const TOOL_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, unit: { type: 'string' } },
  required: ['city'],
}
const TOOL_NAMES = ['get_weather', 'get_time']

const parse = (args: string): unknown => JSON.parse(args || '{}')

// ---------------------------------------------------------------- OpenAI chat completions

/** OpenRouter-style reasoning fields the gateway adds to chat messages, which the SDK does not type. */
interface ReasoningDetail {
  type: string
  index?: number
  text?: string
  signature?: string
  data?: string
  format?: string
}
interface Reasoning {
  reasoning?: string | null
  reasoning_details?: ReasoningDetail[]
}

function openaiRoute(name: string, path: string): Route {
  const client = () => new OpenAI({ baseURL: `${gw.url}${path}`, apiKey: 'sk-unused', maxRetries: 0 })
  const tools: OpenAI.ChatCompletionFunctionTool[] = TOOL_NAMES.map((n) => ({
    type: 'function',
    function: { name: n, parameters: TOOL_SCHEMA },
  }))

  async function ask(
    model: string,
    messages: OpenAI.ChatCompletionMessageParam[],
    stream: boolean,
  ): Promise<{ neutral: Neutral; message: OpenAI.ChatCompletionAssistantMessageParam & Reasoning }> {
    const params = { model, messages, tools, reasoning_effort: 'high' as const }
    if (!stream) {
      const res = await client().chat.completions.create(params)
      const m = res.choices[0].message as OpenAI.ChatCompletionMessage & Reasoning
      const calls = (m.tool_calls ?? []).flatMap((t) => (t.type === 'function' ? [t] : []))
      return {
        neutral: {
          text: m.content ?? '',
          thinking: m.reasoning ?? '',
          toolCalls: calls.map((t) => ({ name: t.function.name, args: parse(t.function.arguments) })),
          finish: res.choices[0].finish_reason,
          usage: { input: res.usage?.prompt_tokens ?? -1, output: res.usage?.completion_tokens ?? -1 },
        },
        message: m,
      }
    }
    const s = await client().chat.completions.create({
      ...params,
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    let thinking = ''
    let finish = ''
    let usage = { input: -1, output: -1 }
    const calls: { id: string; name: string; arguments: string; extra_content?: unknown }[] = []
    const details = new Map<number, ReasoningDetail>()
    for await (const chunk of s) {
      if (chunk.usage) usage = { input: chunk.usage.prompt_tokens, output: chunk.usage.completion_tokens }
      for (const choice of chunk.choices) {
        const d = choice.delta as OpenAI.ChatCompletionChunk.Choice.Delta & Reasoning
        text += d.content ?? ''
        thinking += d.reasoning ?? ''
        for (const r of d.reasoning_details ?? []) {
          const prev = details.get(r.index ?? 0)
          if (!prev) details.set(r.index ?? 0, { ...r })
          else {
            if (r.text) prev.text = (prev.text ?? '') + r.text
            if (r.signature) prev.signature = r.signature
            if (r.data) prev.data = r.data
          }
        }
        for (const t of d.tool_calls ?? []) {
          const prev = calls[t.index]
          // Gemini's signature rides on the call, as in Google's OpenAI-compatible API.
          const extra = (t as { extra_content?: unknown }).extra_content
          if (!prev)
            calls[t.index] = {
              id: t.id ?? '',
              name: t.function?.name ?? '',
              arguments: t.function?.arguments ?? '',
              ...(extra !== undefined && { extra_content: extra }),
            }
          else {
            prev.arguments += t.function?.arguments ?? ''
            if (extra !== undefined) prev.extra_content = extra
          }
        }
        if (choice.finish_reason) finish = choice.finish_reason
      }
    }
    return {
      neutral: {
        text,
        thinking,
        toolCalls: calls.map((c) => ({ name: c.name, args: parse(c.arguments) })),
        finish,
        usage,
      },
      message: {
        role: 'assistant',
        content: text || null,
        ...(calls.length && {
          tool_calls: calls.map((c) => ({
            id: c.id,
            type: 'function' as const,
            function: { name: c.name, arguments: c.arguments },
            ...(c.extra_content !== undefined && { extra_content: c.extra_content }),
          })),
        }),
        ...(details.size && { reasoning_details: [...details.values()] }),
      },
    }
  }

  return {
    name,
    finish: { tools: 'tool_calls', stop: 'stop' },
    signs: true,
    signsCalls: true,
    async converse(model, stream) {
      const user: OpenAI.ChatCompletionMessageParam = { role: 'user', content: QUESTION }
      const first = await ask(model, [user], stream)
      const ids = (first.message.tool_calls ?? []).map((t) => t.id)
      const second = await ask(
        model,
        [
          user,
          first.message,
          ...ids.map((id, i) => ({ role: 'tool' as const, tool_call_id: id, content: RESULTS[i] })),
        ],
        stream,
      )
      return [first.neutral, second.neutral]
    },
  }
}

// ---------------------------------------------------------------- OpenAI Responses

function responsesRoute(name: string, path: string): Route {
  const tools: OpenAI.Responses.FunctionTool[] = TOOL_NAMES.map((n) => ({
    type: 'function',
    name: n,
    parameters: TOOL_SCHEMA,
    strict: false,
  }))

  /** The client's view of a finished response; thinking is the reasoning items' summaries. */
  const neutral = (res: OpenAI.Responses.Response, text: string, thinking: string): Neutral => ({
    text,
    thinking,
    toolCalls: res.output.flatMap((o) =>
      o.type === 'function_call' ? [{ name: o.name, args: parse(o.arguments) }] : [],
    ),
    finish: res.status ?? '',
    usage: { input: res.usage?.input_tokens ?? -1, output: res.usage?.output_tokens ?? -1 },
  })
  const summaries = (res: OpenAI.Responses.Response) =>
    res.output.flatMap((o) => (o.type === 'reasoning' ? o.summary.map((p) => p.text) : [])).join('')

  async function ask(
    model: string,
    input: OpenAI.Responses.ResponseInputItem[],
    stream: boolean,
  ): Promise<{ neutral: Neutral; output: OpenAI.Responses.ResponseOutputItem[] }> {
    const client = new OpenAI({ baseURL: `${gw.url}${path}`, apiKey: 'sk-unused', maxRetries: 0 })
    const params = { model, input, tools, reasoning: { effort: 'high' as const, summary: 'auto' as const } }
    if (!stream) {
      const res = await client.responses.create(params)
      return { neutral: neutral(res, res.output_text, summaries(res)), output: res.output }
    }
    let text = ''
    let thinking = ''
    let completed: OpenAI.Responses.Response | undefined
    for await (const ev of await client.responses.create({ ...params, stream: true })) {
      if (ev.type === 'response.output_text.delta') text += ev.delta
      else if (ev.type === 'response.reasoning_summary_text.delta') thinking += ev.delta
      else if (ev.type === 'response.completed') completed = ev.response
    }
    if (!completed) throw new Error('the stream ended without response.completed')
    return { neutral: neutral(completed, text, thinking), output: completed.output }
  }

  return {
    name,
    // Responses has no finish reason: a turn that calls tools is as completed as one that answers.
    finish: { tools: 'completed', stop: 'completed' },
    signs: true,
    signsCalls: true,
    async converse(model, stream) {
      const user: OpenAI.Responses.ResponseInputItem = { role: 'user', content: QUESTION }
      const first = await ask(model, [user], stream)
      const calls = first.output.flatMap((o) => (o.type === 'function_call' ? [o] : []))
      const second = await ask(
        model,
        [
          user,
          ...(first.output as OpenAI.Responses.ResponseInputItem[]),
          ...calls.map((c, i) => ({
            type: 'function_call_output' as const,
            call_id: c.call_id,
            output: RESULTS[i],
          })),
        ],
        stream,
      )
      return [first.neutral, second.neutral]
    },
  }
}

// ---------------------------------------------------------------- Anthropic Messages

const anthropicRoute: Route = {
  name: '/anthropic/v1/messages',
  finish: { tools: 'tool_use', stop: 'end_turn' },
  signs: true,
  signsCalls: false,
  async converse(model, stream) {
    const client = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: 'sk-unused', maxRetries: 0 })
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

// ---------------------------------------------------------------- Google GenAI

/** Joins streamed parts the way a client keeps history: adjacent text of the same kind in one part. */
function mergeParts(parts: Part[]): Part[] {
  const out: Part[] = []
  for (const p of parts) {
    const prev = out[out.length - 1]
    const isText = typeof p.text === 'string' && !p.functionCall
    if (
      prev &&
      isText &&
      typeof prev.text === 'string' &&
      !prev.functionCall &&
      !!prev.thought === !!p.thought
    ) {
      prev.text += p.text
      if (p.thoughtSignature) prev.thoughtSignature = p.thoughtSignature
    } else out.push({ ...p })
  }
  return out
}

const genaiRoute: Route = {
  name: '/genai/v1beta/models',
  finish: { tools: 'STOP', stop: 'STOP' },
  signs: true,
  signsCalls: true,
  async converse(model, stream) {
    const ai = new GoogleGenAI({
      apiKey: 'AIza-unused',
      httpOptions: { baseUrl: `${gw.url}/genai`, retryOptions: { attempts: 1 } },
    })
    const config = {
      tools: [
        { functionDeclarations: TOOL_NAMES.map((name) => ({ name, parametersJsonSchema: TOOL_SCHEMA })) },
      ],
      thinkingConfig: { includeThoughts: true, thinkingBudget: 2048 },
    }
    const ask = async (contents: Content[]): Promise<{ neutral: Neutral; parts: Part[] }> => {
      const chunks: GenerateContentResponse[] = stream
        ? []
        : [await ai.models.generateContent({ model, contents, config })]
      if (stream)
        for await (const c of await ai.models.generateContentStream({ model, contents, config }))
          chunks.push(c)
      const parts = chunks.flatMap((c) => c.candidates?.[0]?.content?.parts ?? [])
      const last = chunks[chunks.length - 1]
      const u = last?.usageMetadata
      return {
        neutral: {
          text: parts.map((p) => (p.text && !p.thought ? p.text : '')).join(''),
          thinking: parts.map((p) => (p.text && p.thought ? p.text : '')).join(''),
          toolCalls: parts.flatMap((p) =>
            p.functionCall ? [{ name: p.functionCall.name ?? '', args: p.functionCall.args }] : [],
          ),
          finish: last?.candidates?.[0]?.finishReason ?? '',
          usage: {
            input: u?.promptTokenCount ?? -1,
            output: (u?.candidatesTokenCount ?? 0) + (u?.thoughtsTokenCount ?? 0),
          },
        },
        parts: mergeParts(parts),
      }
    }
    const user: Content = { role: 'user', parts: [{ text: QUESTION }] }
    const first = await ask([user])
    const calls = first.parts.flatMap((p) => (p.functionCall ? [p.functionCall] : []))
    const second = await ask([
      user,
      { role: 'model', parts: first.parts },
      {
        role: 'user',
        parts: calls.map((c, i) => ({
          functionResponse: { ...(c.id && { id: c.id }), name: c.name, response: { result: RESULTS[i] } },
        })),
      },
    ])
    return [first.neutral, second.neutral]
  },
}

// ---------------------------------------------------------------- Bedrock Converse

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

const bedrockRoute: Route = {
  name: '/bedrock/model/converse',
  finish: { tools: 'tool_use', stop: 'end_turn' },
  signs: true,
  signsCalls: false,
  async converse(model, stream) {
    const client = new BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: `${gw.url}/bedrock`,
      credentials: { accessKeyId: 'AKIACALLER', secretAccessKey: 'caller-secret' },
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler(),
    })
    const toolConfig = {
      tools: TOOL_NAMES.map((name) => ({ toolSpec: { name, inputSchema: { json: TOOL_SCHEMA as never } } })),
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

// ---------------------------------------------------------------- Cohere v2 chat

const cohereRoute: Route = {
  name: '/cohere/v2/chat',
  finish: { tools: 'TOOL_CALL', stop: 'COMPLETE' },
  signs: false,
  signsCalls: false,
  async converse(model, stream) {
    const co = new CohereClientV2({ token: 'unused', environment: `${gw.url}/cohere`, maxRetries: 0 })
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

const ROUTES: Route[] = [
  openaiRoute('/v1/chat/completions', '/v1'),
  openaiRoute('/langchain/v1/chat/completions', '/langchain/v1'),
  openaiRoute('/openai/v1/chat/completions', '/openai/v1'),
  responsesRoute('/v1/responses', '/v1'),
  anthropicRoute,
  genaiRoute,
  bedrockRoute,
  cohereRoute,
]

// ---------------------------------------------------------------- providers

interface Provider {
  name: string
  model: string
  /** Whether the provider sends reasoning text (OpenAI's chat API reports only reasoning tokens). */
  thinks: boolean
  /** Claude: with thinking on, a tool turn sent back must start with its signed thinking. */
  needsSignedThinking?: boolean
  /** The fake that answers, whose reported answers the client must see. */
  fake: () => FakeServer
}

const BEDROCK_CREDS = { accessKeyId: 'AKIAUPSTREAM', secretAccessKey: 'upstream-secret' }
const VERTEX = {
  project: 'heimdall-matrix',
  region: 'us-east5',
  email: 'matrix@heimdall-matrix.iam.gserviceaccount.com',
}
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })

let openai: FakeServer
let groq: FakeServer
let anthropic: FakeServer
let gemini: FakeServer
let azure: FakeAzure
let bedrock: FakeServer
let cloud: FakeGoogleCloud
let cohere: FakeServer
let gw: RunningHeimdall

const PROVIDERS: Provider[] = [
  { name: 'openai', model: 'openai/gpt-5-mini', thinks: false, fake: () => openai },
  { name: 'groq', model: 'groq/llama-3.3-70b-versatile', thinks: false, fake: () => groq },
  {
    name: 'anthropic',
    model: 'anthropic/claude-sonnet-4-5',
    thinks: true,
    needsSignedThinking: true,
    fake: () => anthropic,
  },
  { name: 'gemini', model: 'gemini/gemini-2.5-flash', thinks: true, fake: () => gemini },
  // Gemini 3 refuses a function-calling turn whose first call lost its thought signature.
  { name: 'gemini-3', model: 'gemini/gemini-3-pro-preview', thinks: true, fake: () => gemini },
  { name: 'azure', model: 'azure/gpt-5-mini', thinks: false, fake: () => azure.resource },
  {
    name: 'bedrock',
    model: 'bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0',
    thinks: true,
    needsSignedThinking: true,
    fake: () => bedrock,
  },
  { name: 'vertex-gemini', model: 'vertex/gemini-2.5-flash', thinks: true, fake: () => cloud.vertex },
  {
    name: 'vertex-claude',
    model: 'vertex/claude-sonnet-4-5-20250929',
    thinks: true,
    needsSignedThinking: true,
    fake: () => cloud.vertex,
  },
  { name: 'cohere', model: 'cohere/command-a-reasoning-08-2025', thinks: true, fake: () => cohere },
]

beforeAll(async () => {
  ;[openai, groq, anthropic, gemini, azure, bedrock, cloud, cohere] = await Promise.all([
    startFakeOpenAI(),
    startFakeOpenAI(),
    startFakeAnthropic(),
    startFakeGemini(),
    startFakeAzure({ apiKey: 'azure-secret', deployments: { 'gpt5-prod': 'gpt-5-mini' } }),
    startFakeBedrock([BEDROCK_CREDS]),
    startFakeGoogleCloud({
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      clientEmail: VERTEX.email,
      project: VERTEX.project,
      region: VERTEX.region,
    }),
    startFakeCohere(),
  ])
  const retries = { retry_backoff_initial: 10, retry_backoff_max: 50 }
  gw = await startHeimdall({
    providers: {
      openai: fakeProvider(openai.url),
      groq: fakeProvider(groq.url),
      anthropic: fakeProvider(anthropic.url),
      gemini: fakeProvider(gemini.url),
      azure: {
        keys: [
          {
            name: 'azure',
            value: 'azure-secret',
            models: ['*'],
            weight: 1,
            azure_key_config: {
              endpoint: azure.url,
              deployments: { 'gpt-5-mini': 'gpt5-prod' },
              api_version: '2025-04-01-preview',
            },
          },
        ],
        network_config: retries,
      },
      bedrock: fakeProvider(bedrock.url, {}, [
        {
          name: 'aws',
          value: '',
          models: ['*'],
          weight: 1,
          bedrock_key_config: {
            access_key: BEDROCK_CREDS.accessKeyId,
            secret_key: BEDROCK_CREDS.secretAccessKey,
            region: 'us-east-1',
          },
        },
      ]),
      vertex: {
        keys: [
          {
            name: 'sa',
            models: ['*'],
            weight: 1,
            vertex_key_config: {
              project_id: VERTEX.project,
              region: VERTEX.region,
              auth_credentials: JSON.stringify({
                type: 'service_account',
                project_id: VERTEX.project,
                private_key_id: 'k1',
                private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
                client_email: VERTEX.email,
                token_uri: `${cloud.oauth.url}/token`,
              }),
            },
          },
        ],
        network_config: { base_url: cloud.vertex.url, ...retries },
      },
      cohere: fakeProvider(cohere.url, {}, [{ name: 'main', value: 'co-good', models: ['*'], weight: 1 }]),
    },
  } as never)
})

afterAll(async () => {
  await gw?.close()
  await Promise.all([openai, groq, anthropic, gemini, azure, bedrock, cloud, cohere].map((f) => f?.close()))
})

beforeEach(() => {
  for (const f of [openai, groq, anthropic, gemini, azure.resource, bedrock, cloud.vertex, cohere]) f.reset()
})

/** What the client must have seen of one answer the fake reported. */
function expected(answer: ReportedAnswer | undefined, finish: string): Neutral {
  expect(answer, 'the provider was not asked').toBeDefined()
  const a = answer!
  return { text: a.text, thinking: a.thinking, toolCalls: a.toolCalls, finish, usage: a.usage }
}

describe.each(ROUTES)('$name', (route) => {
  const cells = PROVIDERS.flatMap((provider) =>
    (['stream', 'json'] as const).map((mode) => ({
      provider,
      mode,
      name: `${route.name} -> ${provider.name} (${mode})`,
    })),
  )

  it.each(cells)('$name', async ({ provider, mode }) => {
    const [first, second] = await route.converse(provider.model, mode === 'stream')
    const answers = provider.fake().answers
    expect(answers).toHaveLength(2)
    // The fakes think only when thinking was asked for, in their own wire format.
    expect(answers[0].thinking !== '').toBe(provider.thinks)
    expect(answers[0].toolCalls).toHaveLength(2)
    // Claude thinks again after the tool results only if its signed thinking came back; a route
    // that cannot carry the signature gets the answer without thinking rather than an error.
    const thinksAgain = provider.thinks && (route.signs || !provider.needsSignedThinking)
    expect(answers[1].thinking !== '').toBe(thinksAgain)
    // Gemini's own signatures came back where the route can carry them; elsewhere its stand-in.
    const standIn = JSON.stringify(provider.fake().requests[1]?.body).includes(
      'skip_thought_signature_validator',
    )
    expect(standIn).toBe(provider.name === 'gemini-3' && !route.signsCalls)

    expect(first).toEqual(expected(answers[0], route.finish.tools))
    expect(second).toEqual(expected(answers[1], route.finish.stop))
    // Both results reached the provider, each with its own call.
    expect(second.text).toMatch(/21C[\s\S]*14:00/)
  })
})
