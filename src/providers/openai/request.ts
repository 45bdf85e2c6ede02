import type { OpenAICompatibleSpec } from '../openai-compatible.js'

/**
 * An OpenAI-format provider gets the caller's body as sent, with the model renamed, Bifrost's own
 * fields removed, streamed usage asked for (so that every stream can be accounted), and parameters
 * the provider is known to reject taken out.
 */
export function toOpenAIBody(
  req: Record<string, unknown>,
  model: string,
  spec: OpenAICompatibleSpec,
  stream: boolean,
): string {
  const body: Record<string, unknown> = { ...req, model }
  delete body.fallbacks
  if (stream) {
    body.stream = true
    if (spec.streamUsage === 'stream_options') {
      const opts = req.stream_options
      body.stream_options = { ...(opts && typeof opts === 'object' ? opts : {}), include_usage: true }
    } else {
      delete body.stream_options
    }
  } else if (body.stream !== undefined) {
    delete body.stream
    delete body.stream_options
  }
  for (const p of spec.rejects) delete body[p]
  return JSON.stringify(body)
}
