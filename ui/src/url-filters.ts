import { useSearchParams } from 'react-router-dom'

/** Time ranges, as the log APIs' `period` (back from now). */
export const PERIODS = [
  { value: '15m', label: 'Last 15 minutes' },
  { value: '1h', label: 'Last hour' },
  { value: '24h', label: 'Last 24 hours' },
  { value: '7d', label: 'Last 7 days' },
  { value: '30d', label: 'Last 30 days' },
]

/**
 * A list page's filters, page number and open entry, kept in its URL: a filtered view or one entry
 * is a link to share, and survives a reload. Changing a filter goes back to the first page.
 */
export function useUrlFilters() {
  const [params, setParams] = useSearchParams()
  const update = (name: string, value: string | null) =>
    setParams(
      (p) => {
        const next = new URLSearchParams(p)
        if (value) next.set(name, value)
        else next.delete(name)
        if (name !== 'entry' && name !== 'page') next.delete('page')
        return next
      },
      // Opening an entry is a step Back undoes; a filter change replaces the address.
      { replace: name !== 'entry' },
    )
  return {
    params,
    update,
    /** A comma-separated filter's values. */
    list: (name: string) => params.get(name)?.split(',').filter(Boolean) ?? [],
    page: Number(params.get('page') ?? 1) || 1,
    entry: params.get('entry') ?? undefined,
    /** The query string of the named filters that are set. */
    query: (names: readonly string[]) => {
      const q = new URLSearchParams()
      for (const name of names) {
        const v = params.get(name)
        if (v) q.set(name, v)
      }
      return q.toString()
    },
  }
}
