import { createHash } from 'node:crypto'

/** The longest tool name most model APIs accept. */
export const MAX_TOOL_NAME = 64

const HASH_CHARS = 8

function shortHash(client: string, tool: string): string {
  return createHash('sha256').update(`${client}\0${tool}`).digest('hex').slice(0, HASH_CHARS)
}

/** `<client>-<tool>` with every character outside [A-Za-z0-9_-] replaced by `_`. */
function plainName(client: string, tool: string): string {
  return `${client}-${tool}`.replace(/[^A-Za-z0-9_-]/g, '_')
}

/** The plain name cut to fit, with a hash of the original pair appended. */
function hashedName(client: string, tool: string): string {
  const head = plainName(client, tool).slice(0, MAX_TOOL_NAME - HASH_CHARS - 1)
  return `${head}_${shortHash(client, tool)}`
}

/**
 * The names under which one client's tools are exposed, by the tool's own name. Deterministic:
 * tools are named in sorted order, and a name that is too long, or that another tool of the
 * client already took after sanitizing, gets a stable hash suffix instead.
 */
export function exposedToolNames(client: string, tools: readonly string[]): Map<string, string> {
  const out = new Map<string, string>()
  const taken = new Set<string>()
  // Tools whose name needs no sanitizing claim their plain name first.
  const clean = (tool: string) => plainName(client, tool) === `${client}-${tool}`
  const ordered = [...new Set(tools)].sort(
    (a, b) => Number(clean(b)) - Number(clean(a)) || (a < b ? -1 : a > b ? 1 : 0),
  )
  for (const tool of ordered) {
    let name = plainName(client, tool)
    if (name.length > MAX_TOOL_NAME || taken.has(name)) name = hashedName(client, tool)
    taken.add(name)
    out.set(tool, name)
  }
  return out
}
