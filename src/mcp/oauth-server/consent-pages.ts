import type { FlowView, PendingUpstream } from './authorization-server.js'

/** Escapes text for HTML content and double-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  )
}

/**
 * A page in the consent pages' look: inline style, no script. `referrer` is the page's referrer
 * policy: `no-referrer` keeps flow ids in URLs to this page (its form posts then send
 * `Origin: null`); `same-origin` lets its form posts carry their real Origin for the origin guard.
 */
export function page(
  title: string,
  body: string,
  referrer: 'no-referrer' | 'same-origin' = 'no-referrer',
): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="${referrer}">
<title>${escapeHtml(title)} · Heimdall</title>
<style>
body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}
form{margin:1rem 0;padding:1rem;border:1px solid #ddd;border-radius:.5rem}
label{display:block;margin-bottom:.5rem}input[type=text],input[type=password]{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:.75rem;padding:.4rem 1rem}.error{color:#a00;border:1px solid #a00;padding:.5rem;border-radius:.25rem}
ul{padding-left:1.2rem}
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`
}

function hiddenFlow(flowId: string): string {
  return `<input type="hidden" name="flow_id" value="${escapeHtml(flowId)}">`
}

/** Step 1: who the user is — a virtual key, a user id, or nobody. */
export function identityPage(view: FlowView, error: string | undefined): string {
  const parts = [
    `<p><strong>${escapeHtml(view.clientName)}</strong> (returning to <code>${escapeHtml(view.redirectHost)}</code>) asks to use this gateway’s MCP tools on your behalf.</p>`,
    error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '',
    `<form method="post" action="/api/oauth/per-user/consent/vk">${hiddenFlow(view.id)}
<label for="vk">Virtual key</label><input type="password" id="vk" name="vk" autocomplete="off" required placeholder="sk-bf-…">
<button type="submit">Continue with virtual key</button></form>`,
  ]
  if (view.userIdAllowed) {
    parts.push(`<form method="post" action="/api/oauth/per-user/consent/user-id">${hiddenFlow(view.id)}
<label for="user_id">User id</label><input type="text" id="user_id" name="user_id" maxlength="255" required>
<button type="submit">Continue with user id</button></form>`)
  }
  if (view.skipAllowed) {
    parts.push(`<form method="post" action="/api/oauth/per-user/consent/skip">${hiddenFlow(view.id)}
<p>Or continue without an identity: logins to upstream services last for this session only.</p>
<button type="submit">Skip</button></form>`)
  }
  return page('Sign in to Heimdall', parts.join('\n'))
}

/** Step 2: the upstream MCP servers still waiting for this user's login, then the final consent. */
export function mcpsPage(view: FlowView, upstreams: PendingUpstream[]): string {
  const item = (u: PendingUpstream) =>
    u.connected || u.login_url === undefined
      ? `<li>${escapeHtml(u.client_name)} — <strong>connected</strong></li>`
      : `<li>${escapeHtml(u.client_name)} — <a href="${escapeHtml(consentLoginLink(u.login_url, view.id))}">Connect</a></li>`
  const list =
    upstreams.length === 0
      ? '<p>No upstream MCP server needs a separate login.</p>'
      : `<p>These MCP servers act with your own account there:</p><ul>${upstreams.map(item).join('')}</ul>`
  return page(
    'Connect MCP servers',
    `<p>Signed in with ${escapeHtml(view.identityLabel ?? 'no identity')}. <a href="/oauth/consent?flow_id=${encodeURIComponent(view.id)}">Change</a></p>
${list}
<form method="post" action="/api/oauth/per-user/consent/submit">${hiddenFlow(view.id)}
<p>Allow <strong>${escapeHtml(view.clientName)}</strong> to use this gateway’s MCP tools as this identity?</p>
<button type="submit">Allow</button></form>`,
  )
}

/** A consent step that cannot go on: the message only, never a secret. */
export function errorPage(message: string): string {
  return page('Sign-in problem', `<p class="error" role="alert">${escapeHtml(message)}</p>`)
}

/** The consent page's login link: its consent flow proves the identity, and the login comes back to it. */
export function consentLoginLink(loginUrl: string, consentFlowId: string): string {
  const url = new URL(loginUrl, 'http://relative.invalid')
  url.searchParams.set('consent_flow', consentFlowId)
  return url.origin === 'http://relative.invalid' ? `${url.pathname}${url.search}` : url.href
}
