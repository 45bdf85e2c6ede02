export {
  PerUserOAuth,
  CALLBACK_PATH,
  loginPath,
  absoluteLoginLinks,
  ADMIN_AUTH_MODE,
  type VerificationFlow,
  type PerUserOAuthOptions,
  type PerUserTokenSource,
  type CallbackOutcome,
  type LoginStart,
  type StartedLogin,
  type UpstreamLogin,
  type UpstreamChallenge,
} from './service.js'
export { CLIENT_METADATA_PATH, type ClientMetadataDocument } from './client-metadata.js'
export { UPSTREAM_LOGIN_COOKIE, isLocalPath } from './login-binding.js'
export {
  parseIdentity,
  formatIdentity,
  callerIdentity,
  callerBindings,
  type McpIdentity,
  type McpSessionCaller,
} from './identity.js'
export type { McpSessionRow } from './session-rows.js'
export { oauthConfigStatus, revokeOAuthConfig, type OAuthConfigStatus } from './config-status.js'
