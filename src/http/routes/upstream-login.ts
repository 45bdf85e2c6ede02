import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import { virtualKeyFromHeaders } from '../../core/virtual-keys.js'
import type { GovernanceState } from '../../governance/index.js'
import {
  CALLBACK_PATH,
  escapeHtml,
  type LoginStart,
  type McpIdentity,
  page,
  type PerUserOAuth,
  UPSTREAM_LOGIN_COOKIE,
} from '../../mcp/index.js'
import { cookie, FLOW_COOKIE, requestOrigin } from './oauth-server.js'

/** Bifrost's name of the callback; Heimdall registers CALLBACK_PATH with authorization servers. */
export const BIFROST_CALLBACK_PATH = '/api/mcp/oauth/callback'

export interface UpstreamLoginRouteDeps {
  oauth: Pick<PerUserOAuth, 'start' | 'callback' | 'loginView'>
  /** Where virtual keys are found by their value. */
  state: Pick<GovernanceState, 'virtualKeyByValue'>
  /** The identity a consent flow of Heimdall's authorization server chose, when this browser holds it. */
  consentIdentity?(flowId: string, secret: string | undefined): Promise<McpIdentity | undefined>
}

/** The id of the active, unexpired virtual key of this value. */
function activeKeyId(state: UpstreamLoginRouteDeps['state'], value: string): string | undefined {
  const vk = state.virtualKeyByValue(value)
  if (!vk?.is_active || (vk.expires_at && Date.parse(vk.expires_at) <= Date.now())) return undefined
  return vk.id
}

/** Each login's browser binding has its own cookie, so that logins in two tabs do not undo each other. */
const bindingCookie = (flowId: string) => `${UPSTREAM_LOGIN_COOKIE}.${flowId}`

/**
 * A login page. Its referrer policy is `same-origin`: the proof form then posts with its real
 * Origin, which the origin guard checks (a foreign page cannot post someone's key for them), and
 * nothing of its URL reaches the upstream.
 */
function htmlAnswer(reply: FastifyReply, status: number, title: string, body: string): FastifyReply {
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'same-origin')
    .send(page(title, body, 'same-origin'))
}

const message = (reply: FastifyReply, status: number, text: string) =>
  htmlAnswer(
    reply,
    status,
    'MCP server login',
    `<p${status >= 400 ? ' class="error" role="alert"' : ''}>${escapeHtml(text)}</p>`,
  )

function formField(body: unknown, name: string): string | undefined {
  const value = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined
}

/**
 * The two browser legs of an upstream login. The login link (`/api/oauth/upstream/{flow}/start`)
 * redirects to the upstream authorization server only for a browser that proves the identity the
 * link was issued to: the consent flow it came from (`consent_flow`, with that flow's cookie), the
 * virtual key or MCP session id sent as a header, or typed into the page the link shows. The
 * callback completes only in the browser that started the login, and goes back to the consent page
 * when the login was started from it. Both sit under /api/oauth/, which admin auth leaves public.
 */
export function registerUpstreamLoginRoutes(app: FastifyInstance, deps: UpstreamLoginRouteDeps): void {
  const { oauth } = deps

  /** Redirects to the upstream once `login` proves the identity; the refusals are pages. */
  const startLogin = async (
    request: FastifyRequest,
    reply: FastifyReply,
    flowId: string,
    login: LoginStart,
  ) => {
    try {
      const started = await oauth.start(flowId, requestOrigin(request), login)
      const secure = request.protocol === 'https' ? '; Secure' : ''
      return reply
        .header('cache-control', 'no-store')
        .header(
          'set-cookie',
          `${bindingCookie(flowId)}=${started.browserCookie}; Path=/api; Max-Age=900; HttpOnly; SameSite=Lax${secure}`,
        )
        .redirect(started.url.href, 303)
    } catch (err) {
      if (err instanceof GatewayError && err.status < 500) return message(reply, err.status, err.message)
      request.log.warn({ err: (err as Error).message }, 'upstream MCP login could not start')
      return message(
        reply,
        502,
        'The MCP server’s authorization server could not be reached. Try again later.',
      )
    }
  }

  /** The page a login link shows a browser that has not proved whose it is yet. */
  const proofPage = async (reply: FastifyReply, flowId: string, error?: string) => {
    let view: Awaited<ReturnType<typeof oauth.loginView>>
    try {
      view = await oauth.loginView(flowId)
    } catch (err) {
      if (err instanceof GatewayError && err.status < 500) return message(reply, err.status, err.message)
      throw err
    }
    const action = `/api/oauth/upstream/${encodeURIComponent(flowId)}/start`
    const field =
      view.identity.mode === 'vk'
        ? '<label for="vk">Your virtual key</label><input type="password" id="vk" name="vk" autocomplete="off" required placeholder="sk-bf-…">'
        : view.identity.mode === 'session'
          ? '<label for="session_id">Your MCP session id</label><input type="password" id="session_id" name="session_id" autocomplete="off" required>'
          : undefined
    const intro = `<p>This link logs <strong>${escapeHtml(view.identityLabel)}</strong> in to <strong>${escapeHtml(view.clientName)}</strong>.</p>`
    const alert = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''
    const body = field
      ? `${intro}${alert}<form method="post" action="${escapeHtml(action)}"><p>Prove it is yours to go on:</p>${field}<button type="submit">Continue</button></form>`
      : `${intro}<p class="error" role="alert">Open it from the consent page of your MCP client.</p>`
    return htmlAnswer(reply, error ? 403 : 200, `Log in to ${view.clientName}`, body)
  }

  app.get<{ Params: { flowId: string }; Querystring: { consent_flow?: string } }>(
    '/api/oauth/upstream/:flowId/start',
    async (request, reply) => {
      const { flowId } = request.params
      const consentFlow = request.query.consent_flow
      if (typeof consentFlow === 'string' && consentFlow !== '') {
        const identity = await deps.consentIdentity?.(consentFlow, cookie(request, FLOW_COOKIE))
        if (!identity)
          return message(
            reply,
            403,
            'This consent is unknown, has expired, or was started in another browser.',
          )
        return startLogin(request, reply, flowId, {
          proven: identity,
          returnTo: `/oauth/consent/mcps?flow_id=${encodeURIComponent(consentFlow)}`,
        })
      }
      const key = virtualKeyFromHeaders(request.headers)
      const vkId = key === undefined ? undefined : activeKeyId(deps.state, key)
      if (vkId) return startLogin(request, reply, flowId, { proven: { mode: 'vk', id: vkId } })
      const session = request.headers['x-bf-mcp-session-id']
      const sessionId = Array.isArray(session) ? session[0] : session
      if (sessionId) return startLogin(request, reply, flowId, { proven: { mode: 'session', id: sessionId } })
      return proofPage(reply, flowId)
    },
  )

  // The proof page's form posts a urlencoded body; the parser is registered for this route only.
  void app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    )
    scope.post<{ Params: { flowId: string } }>(
      '/api/oauth/upstream/:flowId/start',
      async (request, reply) => {
        const { flowId } = request.params
        const key = formField(request.body, 'vk')
        const sessionId = formField(request.body, 'session_id')
        const vkId = key === undefined ? undefined : activeKeyId(deps.state, key)
        const proven: McpIdentity | undefined = vkId
          ? { mode: 'vk', id: vkId }
          : sessionId
            ? { mode: 'session', id: sessionId }
            : undefined
        const view = await oauth.loginView(flowId).catch(() => undefined)
        if (view && (proven?.mode !== view.identity.mode || proven.id !== view.identity.id))
          return proofPage(
            reply,
            flowId,
            `That is not the ${view.identity.mode === 'vk' ? 'virtual key' : 'session id'} this login belongs to.`,
          )
        return startLogin(request, reply, flowId, { proven })
      },
    )
  })

  const callback = async (request: FastifyRequest, reply: FastifyReply) => {
    const q = request.query as Record<string, unknown>
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined)
    let flowOfCookie: string | undefined
    const outcome = await oauth.callback(
      {
        code: str(q.code),
        state: str(q.state),
        error: str(q.error),
        error_description: str(q.error_description),
      },
      (flowId) => {
        flowOfCookie = flowId
        return cookie(request, bindingCookie(flowId))
      },
    )
    // The binding is used up (or refused) either way.
    if (flowOfCookie && outcome.status !== 403)
      reply.header(
        'set-cookie',
        `${bindingCookie(flowOfCookie)}=; Path=/api; Max-Age=0; HttpOnly; SameSite=Lax`,
      )
    if (outcome.status === 200 && outcome.returnTo)
      return reply.header('cache-control', 'no-store').redirect(outcome.returnTo, 303)
    if (outcome.returnTo)
      return htmlAnswer(
        reply,
        outcome.status,
        'MCP server login',
        `<p class="error" role="alert">${escapeHtml(outcome.message)}</p><p><a href="${escapeHtml(outcome.returnTo)}">Back to the consent page</a></p>`,
      )
    return message(reply, outcome.status, outcome.message)
  }
  app.get(CALLBACK_PATH, callback)
  app.get(BIFROST_CALLBACK_PATH, callback)
}
