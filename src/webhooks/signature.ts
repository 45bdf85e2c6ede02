import { createHmac, timingSafeEqual } from 'node:crypto'

/** Header names of a delivery, after the Standard Webhooks specification (standardwebhooks.com). */
export const WEBHOOK_ID_HEADER = 'webhook-id'
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp'
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature'

/**
 * `v1,<base64 HMAC-SHA256(secret, "<webhook-id>.<webhook-timestamp>.<body>")>`: the timestamp
 * (Unix seconds) is signed with the body, so a receiver can refuse old or replayed deliveries.
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', secret).update(`${id}.${timestamp}.${body}`).digest('base64')}`
}

/** Checks a delivery as a receiver would: one of the space-separated signatures matches, and the timestamp is recent. */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)
  const id = one(headers[WEBHOOK_ID_HEADER])
  const ts = Number(one(headers[WEBHOOK_TIMESTAMP_HEADER]))
  const given = one(headers[WEBHOOK_SIGNATURE_HEADER])
  if (!id || !Number.isInteger(ts) || !given || Math.abs(nowSeconds - ts) > toleranceSeconds) return false
  const expected = Buffer.from(signWebhook(secret, id, ts, body))
  return given.split(' ').some((s) => {
    const b = Buffer.from(s)
    return b.length === expected.length && timingSafeEqual(b, expected)
  })
}
