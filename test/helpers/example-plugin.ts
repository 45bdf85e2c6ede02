/**
 * A user's plugin, as a user would write it: an ES module with a config schema and an init that
 * returns its hooks. What it does depends on a marker in the last user message.
 */
export const EXAMPLE_PLUGIN = `
export const configSchema = {
  type: 'object',
  properties: { suffix: { type: 'string' } },
  required: ['suffix'],
  additionalProperties: false,
}

function lastUserText(request) {
  const messages = request.messages ?? []
  const m = messages[messages.length - 1]
  return typeof m?.content === 'string' ? m.content : (m?.content ?? []).map((p) => p.text ?? '').join('')
}

export function init(config) {
  const record = (event) => (globalThis.__pluginEvents ??= []).push(event)
  return {
    timeoutMs: 300,
    async preHook(ctx, request) {
      const text = lastUserText(request)
      ctx.facts.marker = text
      record('pre:' + text)
      if (text.includes('[crash]')) throw new Error('boom')
      if (text.includes('[rewrite]')) request.messages = [{ role: 'user', content: 'rewritten by plugin' }]
      if (text.includes('[short]')) {
        return {
          shortCircuit: {
            response: {
              id: 'chatcmpl-plugin', object: 'chat.completion', created: 1, model: 'plugin-model',
              choices: [{ index: 0, message: { role: 'assistant', content: 'answered by plugin' }, finish_reason: 'stop' }],
              usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 },
            },
          },
        }
      }
      if (text.includes('[refuse]')) {
        return { shortCircuit: { error: { message: 'refused by policy', status_code: 403, type: 'guardrail_refusal' } } }
      }
    },
    postHook(ctx, outcome) {
      if (!ctx.facts.marker?.includes('[post]') || !outcome.response) return
      const r = outcome.response
      const choices = r.choices.map((c) => ({ ...c, message: { ...c.message, content: c.message.content + config.suffix } }))
      return { response: { ...r, choices } }
    },
    onStreamChunk(ctx, item) {
      const marker = ctx.facts.marker ?? ''
      if (marker.includes('[hang]')) return new Promise(() => {})
      const content = item.chunk?.choices?.[0]?.delta?.content
      if (typeof content !== 'string') return
      if (marker.includes('[drop]') && content.includes('two')) return null
      if (marker.includes('[upper]')) {
        const choices = item.chunk.choices.map((c) => ({ ...c, delta: { ...c.delta, content: content.toUpperCase() } }))
        return { ...item, chunk: { ...item.chunk, choices } }
      }
    },
    onEnd(ctx) {
      record('end:' + (ctx.facts.marker ?? '') + ':' + (ctx.error ? ctx.error.code : 'ok'))
    },
  }
}
`
