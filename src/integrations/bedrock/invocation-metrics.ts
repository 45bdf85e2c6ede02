import type { Usage } from '../../core/schemas/index.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'

/** What Bedrock adds to the last chunk of every InvokeModelWithResponseStream answer. */
export interface InvocationMetrics {
  inputTokenCount: number
  outputTokenCount: number
  invocationLatency: number
  firstByteLatency: number
  cacheReadInputTokenCount?: number
  cacheWriteInputTokenCount?: number
}

export const INVOCATION_METRICS = 'amazon-bedrock-invocationMetrics'

/** Watches a unified stream go by for its usage and first byte, so the last chunk can report them. */
export class StreamMeter {
  private usage: Usage | undefined
  private firstByteAt: number | undefined

  constructor(private readonly startedAt: number) {}

  async *observe(items: AsyncIterable<ChatStreamItem>): AsyncGenerator<ChatStreamItem> {
    for await (const item of items) {
      this.firstByteAt ??= Date.now()
      const usage = item.usage ?? item.chunk?.usage
      if (usage) this.usage = usage
      yield item
    }
  }

  metrics(): InvocationMetrics {
    const now = Date.now()
    const read = this.usage?.prompt_tokens_details?.cached_tokens ?? 0
    const write = this.usage?.prompt_tokens_details?.cache_creation_tokens ?? 0
    return {
      inputTokenCount: this.usage?.prompt_tokens ?? 0,
      outputTokenCount: this.usage?.completion_tokens ?? 0,
      invocationLatency: now - this.startedAt,
      firstByteLatency: (this.firstByteAt ?? now) - this.startedAt,
      ...(read && { cacheReadInputTokenCount: read }),
      ...(write && { cacheWriteInputTokenCount: write }),
    }
  }

  /** The chunk with the metrics added, as Bedrock sends its last one. */
  closing<T extends object>(chunk: T): T & { [INVOCATION_METRICS]: InvocationMetrics } {
    return { ...chunk, [INVOCATION_METRICS]: this.metrics() }
  }
}
