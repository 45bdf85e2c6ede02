import { useCallback, useEffect, useState } from 'react'
import { errorText, get } from './api'

/** Loads a GET path; `reload` fetches again. */
export function useApi<T>(path: string | null) {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  const [loading, setLoading] = useState(false)
  const reload = useCallback(async () => {
    if (!path) return
    setLoading(true)
    try {
      setData(await get<T>(path))
      setError(undefined)
    } catch (err) {
      setError(errorText(err))
    } finally {
      setLoading(false)
    }
  }, [path])
  useEffect(() => {
    void reload()
  }, [reload])
  return { data, error, loading, reload }
}

/** The browser tab's title for the page shown: `Virtual keys · Heimdall`. */
export function useDocumentTitle(title: string) {
  useEffect(() => {
    document.title = title ? `${title} · Heimdall` : 'Heimdall'
  }, [title])
}
