import { GoogleGenAI, type Content, type GenerateContentResponse, type Part } from '@google/genai'
import { QUESTION, RESULTS, TOOL_NAMES, TOOL_SCHEMA, type Neutral, type Route } from './route.js'

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

/** /genai/v1beta/models through the Google GenAI SDK, on the gateway at `gateway()`. */
export function genaiRoute(gateway: () => string): Route {
  return {
    name: '/genai/v1beta/models',
    finish: { tools: 'STOP', stop: 'STOP' },
    signs: true,
    signsCalls: true,
    async converse(model, stream) {
      const ai = new GoogleGenAI({
        apiKey: 'AIza-unused',
        httpOptions: { baseUrl: `${gateway()}/genai`, retryOptions: { attempts: 1 } },
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
}
