import { useCallback, useState } from 'react'
import { ApiError, errorText } from './api'

interface Failure {
  message: string
  param?: string
}

/**
 * Runs a form's submit and keeps its error: `errorFor(field)` is the message when the server blamed
 * that field (or a member inside it), `general` the message no field on the form took.
 */
export function useSubmit(fields: string[] = []) {
  const [failure, setFailure] = useState<Failure>()
  const [busy, setBusy] = useState(false)
  const owns = (field: string, param?: string) =>
    param !== undefined && (param === field || param.startsWith(`${field}.`))
  const run = useCallback(async (action: () => Promise<unknown>): Promise<boolean> => {
    setBusy(true)
    setFailure(undefined)
    try {
      await action()
      return true
    } catch (err) {
      const param = err instanceof ApiError ? err.param : undefined
      // The message repeats the field's name before a colon; beside the field, that is noise.
      const message = errorText(err)
      setFailure({ message, param })
      return false
    } finally {
      setBusy(false)
    }
  }, [])
  const errorFor = (field: string): string | undefined =>
    failure && owns(field, failure.param) ? failure.message.replace(/^[\w.]+: /, '') : undefined
  const general = failure && !fields.some((f) => owns(f, failure.param)) ? failure.message : undefined
  return { run, busy, errorFor, general, clear: () => setFailure(undefined) }
}
