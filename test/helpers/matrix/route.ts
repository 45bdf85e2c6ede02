/**
 * The any-to-any matrix's routes (test/matrix.test.ts): one conversation, a question with two tools
 * offered, then the tool results, driven through a route by its official SDK.
 */

/** What a client makes of one answer, whatever the route. */
export interface Neutral {
  text: string
  thinking: string
  toolCalls: { name: string; args: unknown }[]
  finish: string
  usage: { input: number; output: number }
}

export interface Route {
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

export const QUESTION = 'What is the weather and the time in Paris and Tokyo?'
export const RESULTS = ['21C', '14:00']
export const TOOL_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, unit: { type: 'string' } },
  required: ['city'],
}
export const TOOL_NAMES = ['get_weather', 'get_time']

export const parse = (args: string): unknown => JSON.parse(args || '{}')
