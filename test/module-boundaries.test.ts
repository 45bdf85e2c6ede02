import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'
import { ALLOWED, UNRESTRICTED } from '../eslint.boundaries.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const fixture = readFileSync(
  new URL('./fixtures/boundaries/core-imports-providers.ts.txt', import.meta.url),
  'utf8',
)

// The repository's own eslint.config.js, as `npm run lint` runs it.
const projectLint = new ESLint({ cwd: root })

const boundaryErrors = (results: ESLint.LintResult[]) =>
  results.flatMap((r) =>
    r.messages
      .filter((m) => m.ruleId === 'no-restricted-imports')
      .map((m) => ({ file: r.filePath.slice(root.length), line: m.line, message: m.message })),
  )

describe('module boundaries', () => {
  it('npm run lint rejects core importing providers, and names the rule to read', async () => {
    const results = await projectLint.lintText(fixture, { filePath: `${root}src/core/wrong.ts` })
    const errors = boundaryErrors(results)
    expect(errors).toHaveLength(1)
    expect(errors[0]!.line).toBe(2)
    expect(errors[0]!.message).toContain('src/core may import nothing else of src/')
    expect(errors[0]!.message).toContain('not providers')
    expect(errors[0]!.message).toContain('docs/ARCHITECTURE.md')
  })

  it('the same imports are fine where the table allows them', async () => {
    // integrations may import providers; http may import anything; the logger is for every folder.
    const shifted = fixture.replaceAll("'../", "'../../")
    for (const filePath of ['src/integrations/openai/ok.ts', 'src/http/routes/ok.ts']) {
      const results = await projectLint.lintText(shifted, { filePath: `${root}${filePath}` })
      expect(boundaryErrors(results), filePath).toEqual([])
    }
  })

  it('observability may use the logger but not governance, at any depth', async () => {
    const code = [
      "import { createLogger } from '../../observability/logger.js'",
      "import { computeCost } from '../../governance/pricing/index.js'",
      "import { refuseAdmin } from '../../http/auth.js'",
      'export const all = [createLogger, computeCost, refuseAdmin]',
    ].join('\n')
    const results = await projectLint.lintText(code, { filePath: `${root}src/observability/logs/wrong.ts` })
    expect(boundaryErrors(results).map((e) => e.line)).toEqual([2, 3])
  })

  it('npm run lint covers the web UI too: ui/src is linted', async () => {
    const code = 'export function Page(): null {\n  const unused: any = 1\n  return null\n}\n'
    const results = await projectLint.lintText(code, { filePath: `${root}ui/src/pages/Wrong.tsx` })
    const rules = results.flatMap((r) => r.messages.map((m) => m.ruleId))
    expect(rules).toContain('@typescript-eslint/no-unused-vars')
    expect(rules).toContain('@typescript-eslint/no-explicit-any')
  })

  it('another folder is imported through its index.ts: a deep import is refused, core and the logger excepted', async () => {
    const deep = readFileSync(
      new URL('./fixtures/boundaries/http-imports-deep.ts.txt', import.meta.url),
      'utf8',
    )
    const results = await projectLint.lintText(deep, { filePath: `${root}src/http/routes/wrong.ts` })
    const errors = boundaryErrors(results)
    expect(errors.map((e) => e.line)).toEqual([2, 3])
    expect(errors[0]!.message).toContain("src/governance through its index.ts ('../../governance/index.js')")
    // The same from a folder the table lets import governance (async), one level up.
    const shallow = deep.replaceAll("'../../", "'../")
    const fromAsync = await projectLint.lintText(shallow, { filePath: `${root}src/async/wrong.ts` })
    expect(boundaryErrors(fromAsync).map((e) => e.line)).toEqual([2, 3])
  })

  it('every folder of src/ has a rule', () => {
    const folders = readdirSync(`${root}src`, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
    const ruled = [...Object.keys(ALLOWED), ...UNRESTRICTED]
    expect(folders.filter((f) => !ruled.includes(f))).toEqual([])
  })

  // Linting the whole of src/ here took 45-50 s; `npm run lint` (part of .ci/run) already proves the tree
  // lints clean. This proves the rule reaches every file and holds on a real one.
  it('every source file of src/ is under a boundary rule (there is no exception list)', async () => {
    const files = readdirSync(`${root}src`, { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'),
    )
    expect(files.length).toBeGreaterThan(100)
    const unruled: string[] = []
    for (const file of files) {
      const config = (await projectLint.calculateConfigForFile(`${root}src/${file}`)) as {
        rules?: Record<string, unknown[]>
      }
      const rule = config.rules?.['no-restricted-imports']
      if (!rule || ![2, 'error'].includes(rule[0] as number | string)) unruled.push(file)
    }
    expect(unruled).toEqual([])
  })

  it('a real file importing three other folders and the logger lints clean under the table', async () => {
    // governance/runtime.ts imports core, store, cluster and observability/logger.js.
    expect(boundaryErrors(await projectLint.lintFiles(['src/governance/runtime.ts']))).toEqual([])
  })
})
