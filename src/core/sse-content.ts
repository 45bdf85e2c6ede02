/**
 * Length, as written, of the first `"content": "…"` string in `text` between `from` and `to`, or -1
 * when there is none (absent, null or an array). Lets a relay tell an event's text from its
 * envelope without parsing it.
 */
export function contentFieldLength(text: string, from = 0, to = text.length): number {
  let i = text.indexOf('"content":', from)
  if (i === -1 || i >= to) return -1
  i += 10
  while (i < to && text.charCodeAt(i) === 32) i++
  if (text.charCodeAt(i) !== 34) return -1
  const start = ++i
  while (i < to) {
    const c = text.charCodeAt(i)
    if (c === 92) i += 2
    else if (c === 34) return i - start
    else i++
  }
  return -1
}
