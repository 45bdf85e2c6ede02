import OpenAI from 'openai'
import { parse, QUESTION, RESULTS, TOOL_NAMES, TOOL_SCHEMA, type Neutral, type Route } from './route.js'

// ---------------------------------------------------------------- OpenAI chat completions

/** OpenRouter-style reasoning fields the gateway adds to chat messages, which the SDK does not type. */
export interface ReasoningDetail {
  type: string
  index?: number
  text?: string
  signature?: string
  data?: string
  format?: string
}
export interface Reasoning {
  reasoning?: string | null
  reasoning_details?: ReasoningDetail[]
}

/** Chat completions under `path` through the OpenAI SDK, on the gateway at `gateway()`. */
export function openaiRoute(name: string, path: string, gateway: () => string): Route {
  const client = () => new OpenAI({ baseURL: `${gateway()}${path}`, apiKey: 'sk-unused', maxRetries: 0 })
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

/** The Responses API under `path` through the OpenAI SDK, on the gateway at `gateway()`. */
export function responsesRoute(name: string, path: string, gateway: () => string): Route {
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
    const client = new OpenAI({ baseURL: `${gateway()}${path}`, apiKey: 'sk-unused', maxRetries: 0 })
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
