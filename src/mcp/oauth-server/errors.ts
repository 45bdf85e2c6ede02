/**
 * An error of the OAuth endpoints (register, authorize, token), answered in OAuth's own format
 * `{error, error_description}` (RFC 6749 §5.2, RFC 7591 §3.2.2) rather than Bifrost's.
 */
export class OAuthError extends Error {
  constructor(
    readonly error:
      | 'invalid_request'
      | 'invalid_client'
      | 'invalid_grant'
      | 'unsupported_grant_type'
      | 'unsupported_response_type'
      | 'invalid_scope'
      | 'invalid_target'
      | 'invalid_redirect_uri'
      | 'invalid_client_metadata'
      | 'temporarily_unavailable'
      | 'server_error',
    description: string,
    readonly status = 400,
  ) {
    super(description)
    this.name = 'OAuthError'
  }

  get body(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.message }
  }
}

/** Why a consent step cannot go on; the messages name no secret and no other flow. */
export const CONSENT_FAILURES = {
  unknown_flow: { status: 400, message: 'This sign-in request is unknown or was already completed.' },
  flow_expired: {
    status: 410,
    message: 'This sign-in request has expired. Start again from your MCP client.',
  },
  flow_submitted: { status: 409, message: 'This sign-in request was already submitted.' },
  browser_mismatch: {
    status: 403,
    message: 'This sign-in request was started in another browser. Start again from your MCP client.',
  },
  identity_required: { status: 400, message: 'Choose how to identify yourself first.' },
  vk_required: { status: 400, message: 'Enter a virtual key.' },
  vk_invalid: { status: 400, message: 'That virtual key is not valid.' },
  vk_inactive: { status: 400, message: 'That virtual key is not active.' },
  user_id_invalid: { status: 400, message: 'Enter a user id of at most 255 characters.' },
  user_id_not_allowed: { status: 400, message: 'This gateway requires a virtual key.' },
  skip_not_allowed: { status: 400, message: 'This gateway requires a virtual key.' },
} as const

export type ConsentFailureCode = keyof typeof CONSENT_FAILURES

/** A consent step that failed; `code` goes in the `error` query parameter of the redirect back. */
export class ConsentError extends Error {
  constructor(readonly code: ConsentFailureCode) {
    super(CONSENT_FAILURES[code].message)
    this.name = 'ConsentError'
  }

  get status(): number {
    return CONSENT_FAILURES[this.code].status
  }
}

export function isConsentFailureCode(value: string): value is ConsentFailureCode {
  return Object.hasOwn(CONSENT_FAILURES, value)
}
