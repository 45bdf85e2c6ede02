import { useCallback, useEffect, useRef, useState, type ChangeEvent } from 'react'
import { ApiError, errorText } from './api'

interface Failure {
  message: string
  param?: string
}

/** Field name -> what is wrong with it, in plain words; an empty object when all is well. */
export type Problems = Record<string, string | undefined>

/** The problems that are there (a validator may list a field as `undefined`: no problem). */
const present = (p: Problems): Record<string, string> =>
  Object.fromEntries(
    Object.entries(p).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''),
  )

/**
 * `keys[0].value: must not be empty` -> `value: must not be empty`: the server's member paths
 * (array indexes, nesting) mean nothing to someone filling in a form; only the field's own name is kept.
 */
export function withoutPaths(message: string): string {
  return message
    .replace(/\b(?:[a-z_]+\[\d+\]\.)+/gi, '')
    .replace(/\b[a-z_]+_config\.(?=[a-z_]+\b)/gi, '')
    .replace(/\b[a-z_]+\[\d+\]/gi, (m) => m.replace(/\[\d+\]/, ''))
}

/** A text input's (or textarea's) value and what typing writes: `{...bindText(email, setEmail)}`. */
export const bindText = (value: string, set: (value: string) => void) => ({
  value,
  onChange: (e: ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => set(e.currentTarget.value),
})

/** A switch's or checkbox's state and what a click writes: `{...bindChecked(stream, setStream)}`. */
export const bindChecked = (checked: boolean, set: (checked: boolean) => void) => ({
  checked,
  onChange: (e: ChangeEvent<HTMLInputElement>) => set(e.currentTarget.checked),
})

/** Whether a text is an http(s) URL (what a base URL or endpoint must be). */
export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== ''
  } catch {
    return false
  }
}

/** The problem of a number typed in a limit field, or undefined when it is empty or fine. */
export function numberProblem(
  value: number | string,
  { min, whole = false, what }: { min: number; whole?: boolean; what: string },
): string | undefined {
  if (value === '') return undefined
  const n = Number(value)
  if (!Number.isFinite(n)) return `${what} must be a number`
  // Worded as the server words its own refusals, so that one rule reads the same wherever it is met.
  if (whole && (!Number.isInteger(n) || n < min)) return `${what} must be a whole number of at least ${min}`
  if (n < min) return min === 0 ? `${what} cannot be negative` : `${what} must be at least ${min}`
  return undefined
}

/** Brings the first field marked in error into view (a long dialog may be scrolled away from it). */
function revealFirstError() {
  requestAnimationFrame(() => {
    const el = document.querySelector('[aria-invalid="true"], [data-field-error]')
    el?.scrollIntoView({ block: 'center', behavior: 'smooth' })
    if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) el.focus({ preventScroll: true })
  })
}

/**
 * Runs a form's submit and keeps its errors. `validate` (run at every render once the user has
 * tried to submit) finds every problem at once, before any round trip; a problem disappears as
 * soon as it is fixed. `errorFor(field)` is that field's problem, or the server's message when it
 * blamed that field (or a member inside it); `general` is the message no field on the form took.
 */
export function useSubmit(fields: string[] = [], validate?: () => Problems) {
  const [failure, setFailure] = useState<Failure>()
  const [busy, setBusy] = useState(false)
  const [tried, setTried] = useState(false)
  const [reveal, setReveal] = useState(0)
  const validateRef = useRef(validate)
  validateRef.current = validate
  const problems = tried && validate ? present(validate()) : {}
  useEffect(() => {
    if (reveal) revealFirstError()
  }, [reveal])
  const owns = (field: string, param?: string) =>
    param !== undefined && (param === field || param.startsWith(`${field}.`) || param.startsWith(`${field}[`))
  const run = useCallback(async (action: () => Promise<unknown>): Promise<boolean> => {
    setTried(true)
    const found = present(validateRef.current?.() ?? {})
    if (Object.keys(found).length > 0) {
      setFailure(undefined)
      setReveal((n) => n + 1)
      return false
    }
    setBusy(true)
    setFailure(undefined)
    try {
      await action()
      return true
    } catch (err) {
      const param = err instanceof ApiError ? err.param : undefined
      setFailure({ message: withoutPaths(errorText(err)), param })
      setReveal((n) => n + 1)
      return false
    } finally {
      setBusy(false)
    }
  }, [])
  // The message repeats the field's name before a colon; beside the field, that is noise.
  const errorFor = (field: string): string | undefined =>
    problems[field] ??
    (failure && owns(field, failure.param) ? failure.message.replace(/^[\w.[\]]+: /, '') : undefined)
  const general = failure && !fields.some((f) => owns(f, failure.param)) ? failure.message : undefined
  const count = Object.keys(problems).length
  return {
    run,
    busy,
    errorFor,
    general,
    /** "Correct the 2 fields marked below", while client-side problems remain. */
    summary: count
      ? `Not saved: correct the ${count === 1 ? 'field' : `${count} fields`} marked below.`
      : undefined,
    clear: () => setFailure(undefined),
    /** A text input bound to its state and its problem; `field` is the name the server's messages use. */
    bindText: (field: string, value: string, set: (value: string) => void) => ({
      ...bindText(value, set),
      error: errorFor(field),
    }),
    /** The same for an input whose onChange gives its value (Select, NumberInput, TagsInput…). */
    bind: <T>(field: string, value: T, set: (value: T) => void) => ({
      value,
      onChange: set,
      error: errorFor(field),
    }),
  }
}
