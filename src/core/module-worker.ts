import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker, type WorkerOptions } from 'node:worker_threads'

/**
 * A worker thread running the module `name` (without extension) beside the caller's
 * (`import.meta.url`): the compiled `.js`, or under tsx (tests, benchmarks) the `.ts`, which a
 * worker can only load once tsx's loader is registered in it.
 */
export function startModuleWorker(callerUrl: string, name: string, options: WorkerOptions = {}): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`${name}.js`, callerUrl), options)
  const require = createRequire(callerUrl)
  const tsx = pathToFileURL(require.resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href
  const entry = new URL(`${name}.ts`, callerUrl).href
  const boot = `import(${JSON.stringify(tsx)}).then((m) => m.register()).then(() => import(${JSON.stringify(entry)}))`
  return new Worker(boot, { ...options, eval: true })
}
