import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply } from 'fastify'

/** Where `npm run build --prefix ui` writes the built UI: ui/dist beside src/ and dist/. */
export const UI_DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../../ui/dist')

/**
 * The UI's client routes: each answers index.html, and the router in the browser takes over.
 * Listed rather than a catch-all so that no API path (/api, /v1, /mcp ...) ever gets the page.
 */
export const UI_PAGES = [
  'login',
  'dashboard',
  'providers',
  'virtual-keys',
  'teams',
  'customers',
  'users',
  'access-profiles',
  'lookup',
  'mcp-servers',
  'logs',
  'settings',
  'playground',
]

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Heimdall</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>Heimdall is running</h1>
<p>The web UI has not been built. Build it with <code>npm run build:ui</code> (or <code>npm ci</code>,
which builds it), then reload this page.</p>
<p>The HTTP API is available: <code>/v1/chat/completions</code>, <code>/api/providers</code> ...</p>
</body></html>
`

/** The web UI at `/`: hashed assets cached for a year, index.html never cached. */
export function registerUi(app: FastifyInstance, dist: string = UI_DIST): void {
  const built = existsSync(join(dist, 'index.html'))
  if (!built) {
    app.get('/', async (_request, reply) =>
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(NOT_BUILT),
    )
    return
  }
  void app.register(fastifyStatic, {
    root: dist,
    prefix: '/',
    // One route per file found at start-up, so no wildcard route competes with the API's paths.
    wildcard: false,
    index: false,
    cacheControl: false,
    setHeaders(res, path) {
      res.header(
        'cache-control',
        path.includes(`${join(dist, 'assets')}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
      )
    },
  })
  const page = (_request: unknown, reply: FastifyReply) =>
    reply.header('cache-control', 'no-cache').sendFile('index.html', dist, { cacheControl: false })
  app.get('/', page)
  for (const name of UI_PAGES) {
    app.get(`/${name}`, page)
  }
  // Any other page a browser opens gets the UI, whose router shows its not-found page; API paths,
  // files, paths served under another method and callers that do not ask for HTML keep the API's
  // 404 (or 405). A hook on unmatched requests rather than a catch-all route, which would turn every
  // unknown path into a 405.
  app.addHook('onRequest', async (request, reply) => {
    if (!request.is404 || request.method !== 'GET') return
    if (!isUiNavigation(request.url, request.headers.accept)) return
    const path = request.url.split('?')[0]
    if (['POST', 'PUT', 'DELETE', 'PATCH'].some((method) => app.findRoute({ method, url: path }))) return
    await page(request, reply)
    return reply
  })
}

/** First path segments that belong to the API (inference, management, MCP, drop-in SDK routes). */
const API_ROOTS = new Set([
  'v1',
  'api',
  'mcp',
  'health',
  'metrics',
  'openai',
  'anthropic',
  'genai',
  'bedrock',
  'cohere',
  'litellm',
  'langchain',
  'pydanticai',
  'oauth',
  '.well-known',
  'assets',
])

/** Whether a GET is a browser opening a page of the UI (not an API call, not a missing file). */
export function isUiNavigation(url: string, accept: string | undefined): boolean {
  const path = url.split('?')[0]
  const first = path.split('/')[1] ?? ''
  return (accept ?? '').includes('text/html') && !API_ROOTS.has(first) && !/\.[a-z0-9]+$/i.test(path)
}
