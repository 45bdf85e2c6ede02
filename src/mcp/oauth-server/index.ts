export {
  AuthorizationServer,
  SCOPES,
  type AuthorizationServerDeps,
  type ConsentIdentity,
  type OAuthServerConfig,
  type PendingUpstream,
  type TokenResponse,
} from './authorization-server.js'
export { ConsentError, OAuthError, CONSENT_FAILURES, isConsentFailureCode } from './errors.js'
export { errorPage, escapeHtml, identityPage, mcpsPage, page } from './consent-pages.js'
export { consentIdentity } from './consent-identity.js'
