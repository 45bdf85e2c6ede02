import type { GatewayContext } from '../core/context.js'
import { routingInfoJson } from '../governance/index.js'

/**
 * Bifrost's `extra_fields` on successful `/v1` answers (`BifrostResponseExtraFields`):
 * `request_type`, `provider`, `model_requested`, `latency` (ms) and `chunk_index`. The drop-in
 * routes (`/openai`, `/anthropic` ...) answer in the provider's own format and get none.
 *
 * They are spliced into the JSON text before its closing brace instead of parsing and
 * re-serialising it, so an upstream body relayed byte for byte stays a string copy.
 */

/** Whether the request came in on Bifrost's own API (`/v1/...`), whose answers carry `extra_fields`. */
export function carriesExtraFields(ctx: GatewayContext): boolean {
  const route = ctx.route
  return route !== undefined && route.startsWith('/v1/')
}

/**
 * `"extra_fields":{"request_type":...,"provider":...,"model_requested":...` without its closing
 * brace, in ASCII (other characters escaped) so that it can join bytes relayed as latin1 text.
 */
function openFields(ctx: GatewayContext): string {
  let s = `"extra_fields":{"request_type":${ascii(ctx.requestType)}`
  if (ctx.provider) s += `,"provider":${ascii(ctx.provider)}`
  const model = ctx.model ?? ctx.modelRequested
  if (model) s += `,"model_requested":${ascii(model)}`
  return s + routingInfoJson(ctx)
}

function ascii(value: string): string {
  return asciiJson(JSON.stringify(value))
}

function asciiJson(json: string): string {
  return json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** `text` (a JSON object) with `fields` added as its last member; anything else comes back unchanged. */
function spliceMember(text: string, fields: string): string {
  let end = text.length - 1
  while (end > 0 && isSpace(text.charCodeAt(end))) end--
  let start = 0
  while (start < end && isSpace(text.charCodeAt(start))) start++
  if (text.charCodeAt(end) !== 125 /* } */ || text.charCodeAt(start) !== 123 /* { */) return text
  let before = end - 1
  while (before > 0 && isSpace(text.charCodeAt(before))) before--
  const comma = text.charCodeAt(before) === 123 /* { : an empty object */ ? '' : ','
  return `${text.slice(0, end)}${comma}${fields}}${text.slice(end + 1)}`
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9
}

/** A non-streamed answer's JSON text with Bifrost's `extra_fields` (latency: the provider call's time). */
export function withExtraFields(text: string, ctx: GatewayContext): string {
  const latency = Math.round(ctx.upstreamLatencyMs ?? elapsedMs(ctx))
  return spliceMember(text, `${openFields(ctx)},"latency":${latency},"chunk_index":0${cacheDebug(ctx)}}`)
}

/** `,"cache_debug":{...}` when the response cache looked the request up (semantic_cache plugin). */
function cacheDebug(ctx: GatewayContext): string {
  return ctx.facts.cacheDebug ? `,"cache_debug":${asciiJson(JSON.stringify(ctx.facts.cacheDebug))}` : ''
}

function elapsedMs(ctx: GatewayContext): number {
  return Number(process.hrtime.bigint() - ctx.startNs) / 1e6
}

/**
 * The `extra_fields` of a stream's chunks, as Bifrost writes them on every chunk: its index from
 * 0, and the milliseconds since the previous chunk (since arrival for the first). The final chunk
 * (the one with usage) carries the whole stream's time instead, as Bifrost's last chunk does.
 */
export class StreamExtraFields {
  private readonly open: string
  private index = 0
  private last: bigint

  constructor(private readonly ctx: GatewayContext) {
    this.open = openFields(ctx)
    this.last = ctx.startNs
  }

  /** The text that replaces a chunk's closing brace: `,"extra_fields":{...}}`. */
  private closing(final: boolean, now = process.hrtime.bigint()): string {
    const latency = Math.round(Number(now - (final ? this.ctx.startNs : this.last)) / 1e6)
    this.last = now
    return `,${this.open},"latency":${latency},"chunk_index":${this.index++}${final ? cacheDebug(this.ctx) : ''}}}`
  }

  /** One chunk's JSON text (an object, as the relays check) with its `extra_fields`. */
  chunk(json: string, final = false): string {
    if (json.charCodeAt(json.length - 1) !== 125 /* } */) return json
    return json.slice(0, -1) + this.closing(final)
  }

  /**
   * Frames relayed as bytes (`data: {...}\n\n`, several per upstream read), given as their latin1
   * text (one char per byte, which the relay has anyway): the bytes to write, each JSON event's
   * closing brace replaced. The added text is ASCII, so the other bytes come back unchanged;
   * comments and anything not ending in `}` pass as they are.
   */
  frames(latin1: string): Buffer {
    // The events of one read arrived together: one clock reading for all of them.
    const now = process.hrtime.bigint()
    let out = ''
    let from = 0
    let start = 0
    let end: number
    while ((end = latin1.indexOf('\n\n', start)) !== -1) {
      if (latin1.charCodeAt(start) === 100 /* d */ && latin1.charCodeAt(end - 1) === 125 /* } */) {
        out += latin1.slice(from, end - 1) + this.closing(false, now)
        from = end
      }
      start = end + 2
    }
    return Buffer.from(from === 0 ? latin1 : out + latin1.slice(from), 'latin1')
  }
}
