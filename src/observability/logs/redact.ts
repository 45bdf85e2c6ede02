/** Credentials out of what a log entry stores: known key shapes, credential-named fields, the caller's own values. */

const SECRET_KEYS =
  /^(authorization|proxy-authorization|x-api-key|api[-_]?key|x-goog-api-key|password|secret|client[-_]secret|access[-_]token|refresh[-_]token|id[-_]token|aws[-_]secret[-_]access[-_]key|aws[-_]session[-_]token|private[-_]key)$/i
const SECRET_VALUES =
  /\b(sk-[A-Za-z0-9_-]{16,}|sk-ant-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,})\b|\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g

/** A text with known key shapes and the given exact values replaced by `[REDACTED]`. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text.length >= 8 ? text.replace(SECRET_VALUES, '[REDACTED]') : text
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[REDACTED]')
  return out
}

/** A field named like a credential, as it appears in JSON text. */
const SECRET_KEY_IN_JSON = new RegExp(`"${SECRET_KEYS.source.slice(1, -1)}":`, 'i')

/** JSON of a request or response body, with credentials replaced by `[REDACTED]`. */
export function redactedJson(value: unknown, secrets: readonly string[] = []): string | null {
  if (value === undefined) return null
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch {
    return null
  }
  if (json === undefined) return null
  // A credential-named field is replaced whole, whatever its type: that takes a walk of the value.
  if (SECRET_KEY_IN_JSON.test(json)) return redactedJsonByWalk(value, secrets)
  return redactedJsonWithoutSecretFields(json, secrets)
}

/** JSON text (a provider's answer) with credentials replaced by `[REDACTED]`; null if it is not JSON. */
export function redactedJsonText(text: string, secrets: readonly string[] = []): string | null {
  if (!SECRET_KEY_IN_JSON.test(text)) return redactedJsonWithoutSecretFields(text, secrets)
  try {
    return redactedJsonByWalk(JSON.parse(text), secrets)
  } catch {
    return null
  }
}

function redactedJsonWithoutSecretFields(json: string, secrets: readonly string[]): string {
  // The key shapes cannot cross a JSON string's quotes, and the
  // exact values are looked for as JSON writes them.
  json = json.replace(SECRET_VALUES, '[REDACTED]')
  for (const s of secrets) {
    const escaped = ESCAPED_IN_JSON.test(s) ? JSON.stringify(s).slice(1, -1) : s
    if (json.includes(escaped)) json = json.split(escaped).join('[REDACTED]')
  }
  return json
}

/** What JSON.stringify writes differently inside a string: most credentials have none (no need to stringify them). */
const ESCAPED_IN_JSON = /["\\\u0000-\u001f\ud800-\udfff]/

function redactedJsonByWalk(value: unknown, secrets: readonly string[]): string | null {
  try {
    return JSON.stringify(value, (key, v: unknown) => {
      if (key !== '' && SECRET_KEYS.test(key)) return '[REDACTED]'
      if (typeof v === 'string') return redactText(v, secrets)
      return v
    })
  } catch {
    return null
  }
}
