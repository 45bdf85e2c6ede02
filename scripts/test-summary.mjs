// Prints vitest's JSON report as the closing line CI reads: "N passed, N failed, N skipped".
import { readFileSync } from 'node:fs'

const file = process.argv[2] ?? '.vitest-results.json'
let report
try {
  report = JSON.parse(readFileSync(file, 'utf8'))
} catch (err) {
  console.log(`no test report at ${file}: ${err.message}`)
  console.log('0 passed, 1 failed')
  process.exit(1)
}
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
// A suite that failed to load, or whose setup failed, has no failed test of its own; count it.
const brokenSuites = (report.testResults ?? []).filter(
  (r) => r.status === 'failed' && !(r.assertionResults ?? []).some((a) => a.status === 'failed'),
).length
const failed = report.numFailedTests + brokenSuites
console.log(`${report.numPassedTests} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed > 0 || report.numPassedTests === 0 ? 1 : 0)
