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

/**
 * Folders imported file by file: core, the kernel every folder uses (an index.ts re-exporting all of
 * it would load the whole of core for one type). Every other folder is imported through its index.ts.
 */
export const DEEP_IMPORTS_ALLOWED = ['core']

/** Patterns refusing a file inside an allowed folder other than its index.ts (core and the logger excepted). */
function deepPatterns(folder, allowed, up, depth) {
  return allowed
    .filter((t) => !DEEP_IMPORTS_ALLOWED.includes(t))
    .map((target) => {
      const name = escape(target)
      const logger = target === 'observability' ? '|logger\\.js$' : ''
      const index = `${depth === 0 ? './' : '../'.repeat(depth)}${target}/index.js`
      return {
        regex: `${up}${name}/(?!index\\.js$${logger})`,
        message: `src/${folder} imports src/${target} through its index.ts ('${index}'), not a file inside it: see docs/ARCHITECTURE.md.`,
      }
    })
}

/** Patterns refusing, from a file `depth` folders below src/, any folder outside `allowed`. */
function patterns(folder, allowed, depth) {
  const up = `^(?:\\.\\./){${depth}}`
  const refused = [...topFolders(), 'cli'].filter((t) => t !== folder && !allowed.includes(t))
  const list = [
    { regex: `^(?:\\.\\./){${depth + 1}}`, message: `src/${folder} may not import from outside src/.` },
    ...deepPatterns(folder, allowed, up, depth),
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
  // http and cli.ts may import every folder, through its index.ts.
  for (const folder of UNRESTRICTED) {
    const allowed = topFolders().filter((t) => t !== folder)
    for (let depth = 1; depth <= MAX_DEPTH; depth++) {
      const up = `^(?:\\.\\./){${depth}}`
      configs.push({
        files: [`src/${folder}/${'*/'.repeat(depth - 1)}*.ts`],
        ignores: ['src/**/*.test.ts'],
        rules: { 'no-restricted-imports': ['error', { patterns: deepPatterns(folder, allowed, up, depth) }] },
      })
    }
  }
  const fromCli = deepPatterns('cli.ts', topFolders(), '^\\./', 0)
  configs.push({
    files: ['src/cli.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: fromCli }] },
  })
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
