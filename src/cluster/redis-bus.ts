import type { Redis } from 'ioredis'
import { DEFAULT_PREFIX, connectRedis, redisCommandError } from './redis-connection.js'
import { addHandler, deliver } from './topic-handlers.js'
import type { ChangeBus, ChangeHandler, ClusterErrorHandler } from './types.js'

export interface RedisChangeBusOptions {
  /** Channels are `<prefix>bus:<topic>`; defaults to `heimdall:`. */
  prefix?: string
  onError?: ClusterErrorHandler
}

/**
 * Change events over Redis pub/sub, as JSON. One subscriber connection listens to every topic of
 * the prefix from the start, so subscribe() is local and takes effect at once. Pub/sub does not
 * store messages: one published while the subscriber is reconnecting is lost, which is why
 * onReconnect() handlers run once the subscription is back, for the caller to reload everything.
 */
export class RedisChangeBus implements ChangeBus {
  private readonly handlers = new Map<string, Set<ChangeHandler>>()
  private readonly reconnectHandlers = new Set<() => void>()
  private readonly channelPrefix: string
  private readonly pattern: string
  private closed = false

  private constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    prefix: string,
    private readonly onError?: ClusterErrorHandler,
  ) {
    this.channelPrefix = `${prefix}bus:`
    this.pattern = `${escapeGlob(this.channelPrefix)}*`
    subscriber.on('pmessage', (_pattern: string, channel: string, payload: string) =>
      this.receive(channel, payload),
    )
  }

  /** Opens a publisher and a subscriber connection; fails with a clear error when Redis cannot be reached. */
  static async connect(url: string, opts: RedisChangeBusOptions = {}): Promise<RedisChangeBus> {
    const [publisher, subscriber] = await Promise.allSettled([
      connectRedis(url, { name: 'heimdall-bus-pub', onError: opts.onError }),
      connectRedis(url, { name: 'heimdall-bus-sub', onError: opts.onError }),
    ])
    if (publisher.status === 'rejected' || subscriber.status === 'rejected') {
      for (const r of [publisher, subscriber]) if (r.status === 'fulfilled') r.value.disconnect()
      throw publisher.status === 'rejected' ? publisher.reason : (subscriber as PromiseRejectedResult).reason
    }
    const bus = new RedisChangeBus(
      publisher.value,
      subscriber.value,
      opts.prefix ?? DEFAULT_PREFIX,
      opts.onError,
    )
    try {
      await subscriber.value.psubscribe(bus.pattern)
    } catch (err) {
      publisher.value.disconnect()
      subscriber.value.disconnect()
      throw redisCommandError(err, 'the subscription to change events')
    }
    // The first 'ready' happened before this listener; every later one is a reconnection.
    subscriber.value.on('ready', () => void bus.resubscribed())
    return bus
  }

  async publish(topic: string, message: unknown): Promise<void> {
    const payload = JSON.stringify(message ?? null)
    try {
      await this.publisher.publish(this.channelPrefix + topic, payload)
    } catch (err) {
      throw redisCommandError(err, `publishing to ${topic}`)
    }
  }

  subscribe(topic: string, handler: ChangeHandler): () => void {
    return addHandler(this.handlers, topic, handler)
  }

  onReconnect(handler: () => void): () => void {
    const entry = () => handler()
    this.reconnectHandlers.add(entry)
    return () => this.reconnectHandlers.delete(entry)
  }

  async close(): Promise<void> {
    this.closed = true
    this.handlers.clear()
    this.reconnectHandlers.clear()
    await Promise.all(
      [this.publisher, this.subscriber].map((r) =>
        r.quit().then(
          () => undefined,
          () => r.disconnect(),
        ),
      ),
    )
  }

  private receive(channel: string, payload: string): void {
    if (this.closed || !channel.startsWith(this.channelPrefix)) return
    const topic = channel.slice(this.channelPrefix.length)
    let message: unknown
    try {
      message = JSON.parse(payload)
    } catch (err) {
      this.onError?.(err instanceof Error ? err : new Error(String(err)), `message on ${topic}`)
      return
    }
    deliver(this.handlers.get(topic), topic, message, this.onError)
  }

  /** After a reconnection: make sure the subscription is back before the caller reloads, so no change falls in between. */
  private async resubscribed(): Promise<void> {
    if (this.closed) return
    try {
      await this.subscriber.psubscribe(this.pattern)
    } catch (err) {
      // The connection dropped again; the next 'ready' tries again.
      this.onError?.(redisCommandError(err, 'the subscription to change events'), 'heimdall-bus-sub')
      return
    }
    for (const handler of [...this.reconnectHandlers]) {
      try {
        handler()
      } catch (err) {
        this.onError?.(err instanceof Error ? err : new Error(String(err)), 'reconnect handler')
      }
    }
  }
}

/** Redis glob patterns treat these characters specially. */
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&')
}
