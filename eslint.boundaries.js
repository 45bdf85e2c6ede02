// Which folder of src/ may import which: the module table of docs/ARCHITECTURE.md, enforced by
// ESLint's no-restricted-imports (imported by eslint.config.js and test/module-boundaries.test.ts).
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** Folder of src/ → the other folders of src/ its files may import. http and cli.ts may import anything. */
export const ALLOWED = {
  core: [],
  providers: ['core'],
  integrations: ['core', 'providers'],
  store: ['core'],
  cluster: ['core', 'store'],
  governance: ['core', 'store', 'cluster'],
  mcp: ['core', 'store'],
  observability: ['core', 'store', 'cluster'],
  plugins: ['core', 'store', 'cluster'],
  async: ['core', 'store', 'cluster', 'governance'],
  webhooks: ['core', 'store', 'cluster'],
}
export const UNRESTRICTED = ['http']

const LOGGER = 'observability/logger.js'
const MAX_DEPTH = 6
const srcDir = fileURLToPath(new URL('./src/', import.meta.url))
const topFolders = () =>
  readdirSync(srcDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Patterns refusing, from a file `depth` folders below src/, any folder outside `allowed`. */
function patterns(folder, allowed, depth) {
  const up = `^(?:\\.\\./){${depth}}`
  const refused = [...topFolders(), 'cli'].filter((t) => t !== folder && !allowed.includes(t))
  const list = [
    { regex: `^(?:\\.\\./){${depth + 1}}`, message: `src/${folder} may not import from outside src/.` },
  ]
  for (const target of refused) {
    const name = escape(target)
    // The logger is a leaf (it imports only pino): every folder may use it.
    const regex =
      target === 'observability' ? `${up}observability/(?!logger\\.js$)` : `${up}${name}(?:/|\\.js$)`
    const may = allowed.length > 0 ? allowed.join(', ') : 'nothing else of src/'
    list.push({
      regex,
      message: `src/${folder} may import ${may} (and ${LOGGER}), not ${target}: see docs/ARCHITECTURE.md.`,
    })
  }
  return list
}

const rule = (folder, allowed, depth) => ({
  'no-restricted-imports': ['error', { patterns: patterns(folder, allowed, depth) }],
})

/** Flat-config objects for the boundaries, one per folder and depth. */
export function boundaryConfigs() {
  const configs = []
  for (const [folder, allowed] of Object.entries(ALLOWED)) {
    for (let depth = 1; depth <= MAX_DEPTH; depth++) {
      configs.push({
        files: [`src/${folder}/${'*/'.repeat(depth - 1)}*.ts`],
        // Tests beside their subject may import anything, as test/ does.
        ignores: ['src/**/*.test.ts'],
        rules: rule(folder, allowed, depth),
      })
    }
  }
  return configs
}
