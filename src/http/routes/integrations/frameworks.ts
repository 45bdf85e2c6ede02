import type { FastifyInstance, RouteOptions } from 'fastify'
import type { DropIn, DropInDeps } from './index.js'

/** The frameworks Bifrost serves (its litellm.go, langchain.go, pydanticai.go). */
export const FRAMEWORK_PREFIXES = ['/litellm', '/langchain', '/pydanticai'] as const

/**
 * Under each framework prefix, every drop-in integration twice, as Bifrost has it: at
 * `{framework}{integration}/...` (its OpenAPI: `/litellm/anthropic/v1/messages`) and at
 * `{framework}/...` (its route code, which puts the framework where the integration's prefix was:
 * `/litellm/v1/messages`, `/litellm/v2/chat`, `/litellm/model/{id}/converse`). The integrations'
 * own register functions run here, so whatever they add is mounted too.
 *
 * A short form is mounted only where no route is declared yet, in the integrations' order: OpenAI's,
 * first, keeps `GET /litellm/v1/models` and `/litellm/v1/files`, while Anthropic's models list and
 * files stay at `/litellm/anthropic/v1/...`.
 */
export function registerFrameworkIntegrations(
  app: FastifyInstance,
  deps: DropInDeps,
  dropIns: readonly DropIn[],
): void {
  for (const framework of FRAMEWORK_PREFIXES) {
    app.register(
      async (scope) => {
        const served = new Set<string>()
        const shortForms: (() => void)[] = []
        // Child scopes load one after the other, in this order, each with its nested scopes.
        for (const dropIn of dropIns) {
          scope.register(async (inner) => {
            const own = `${framework}${dropIn.prefix}/`
            inner.addHook('onRoute', function (this: FastifyInstance, route: RouteOptions) {
              const methods = methodsOf(route)
              for (const m of methods) served.add(routeKey(m, route.url))
              // Fastify makes the HEAD twin of a GET again for the GET's short form.
              if (!route.url.startsWith(own) || methods.every((m) => m === 'HEAD')) return
              const short = framework + route.url.slice(own.length - 1)
              shortForms.push(() => mountAt(this, route, methods, short, served))
            })
            dropIn.register(inner, deps)
          })
        }
        // Once every integration's own paths are known, so that none loses a path to a short form.
        scope.register(async () => {
          for (const mount of shortForms) mount()
        })
      },
      { prefix: framework },
    )
  }
}

/** The route again at `url`, in the scope that declared it (its error handler, its body parsers), unless taken. */
function mountAt(
  scope: FastifyInstance,
  route: RouteOptions,
  methods: string[],
  url: string,
  served: Set<string>,
): void {
  if (methods.some((m) => served.has(routeKey(m, url)))) return
  if (!url.startsWith(scope.prefix)) {
    throw new Error(
      `${route.url} was declared in a scope with the prefix ${scope.prefix}, so it cannot be mounted at ${url}; declare the full path instead`,
    )
  }
  for (const m of methods) served.add(routeKey(m, url))
  const options: RouteOptions = { ...route, method: [...methods], url: url.slice(scope.prefix.length) }
  // Fastify filled in `path` (the full path) too; the copy's is computed again from `url`.
  delete (options as { path?: string }).path
  scope.route(options)
}

function methodsOf(route: RouteOptions): string[] {
  return Array.isArray(route.method) ? route.method : [route.method]
}

/** A route's method and path with its parameters unnamed: `/files/:id` and `/files/:file_id` are one path. */
function routeKey(method: string, url: string): string {
  return `${method} ${url.replace(/:[^/]+/g, ':')}`
}
