/**
 * The token endpoints (shared/vk-ads/API.md §2): `POST /api/v2/oauth2/token.json`
 * (client_credentials and refresh_token) and `POST /api/v2/oauth2/token/delete.json`,
 * form-encoded. Their error bodies are undocumented: the form is an option.
 */
import type { ResolvedVkAdsAccount, ResolvedVkAdsOptions } from './vk-ads-options.ts'
import { AUTH_ERROR_MESSAGES, tokenError, VkAdsAnswer } from './vk-ads-answer.ts'
import { TOKEN_LIFETIME_SECONDS, type VkAdsToken, type VkAdsTokenStore } from './vk-ads-token-store.ts'

/** The `scope` of a client-credentials token (a GUESS: the docs show only "<scope>"). */
export const CLIENT_CREDENTIALS_SCOPE = 'read_ads,read_payments,create_ads'

/** What the token endpoints need of the simulator. */
export interface OAuthContext {
  /** The account of an API access, with whether its user is blocked. */
  account(clientId: string): { config: ResolvedVkAdsAccount; blocked: boolean } | undefined
  tokens: VkAdsTokenStore
  nowMs: number
  options: ResolvedVkAdsOptions
}

/** The answer, and the client_id it is counted for when that client exists. */
export interface OAuthOutcome {
  answer: VkAdsAnswer
  clientId: string | undefined
}

/** The success body, in the key order of the docs' example; `expires_in` a string as documented. */
export function tokenBody(token: VkAdsToken): Record<string, string> {
  return {
    access_token: token.accessToken,
    token_type: 'bearer',
    scope: CLIENT_CREDENTIALS_SCOPE,
    expires_in: String(TOKEN_LIFETIME_SECONDS),
    refresh_token: token.refreshToken,
  }
}

function checkClient(
  form: URLSearchParams,
  ctx: OAuthContext,
): { config: ResolvedVkAdsAccount; blocked: boolean } | VkAdsAnswer {
  const errorForm = ctx.options.tokenErrorForm
  const clientId = form.get('client_id') ?? ''
  const account = ctx.account(clientId)
  if (account === undefined || form.get('client_secret') !== account.config.clientSecret)
    return tokenError(401, 'invalid_client', AUTH_ERROR_MESSAGES.invalid_client, errorForm)
  if (account.blocked) return tokenError(401, 'invalid_user', AUTH_ERROR_MESSAGES.invalid_user, errorForm)
  return account
}

/** `POST /api/v2/oauth2/token.json`. */
export function tokenRequest(form: URLSearchParams, ctx: OAuthContext): OAuthOutcome {
  const errorForm = ctx.options.tokenErrorForm
  const clientId = ctx.account(form.get('client_id') ?? '') === undefined ? undefined : (form.get('client_id') ?? '')
  const grantType = form.get('grant_type')
  if (grantType === null)
    return { answer: tokenError(400, 'invalid_request', 'grant_type is required', errorForm), clientId }
  if (grantType !== 'client_credentials' && grantType !== 'refresh_token')
    return {
      answer: tokenError(
        400,
        'unsupported_grant_type',
        `grant_type ${JSON.stringify(grantType)} is not simulated; use client_credentials or refresh_token`,
        errorForm,
      ),
      clientId,
    }
  const account = checkClient(form, ctx)
  if (account instanceof VkAdsAnswer) return { answer: account, clientId }
  const { config } = account
  if (grantType === 'client_credentials') {
    const token = ctx.tokens.mint(config.clientId, config.userId, ctx.nowMs)
    if (token === 'limit')
      return {
        answer: tokenError(
          403,
          'token_limit_exceeded',
          `Token limit exceeded: at most ${ctx.options.maxTokensPerUser} tokens per client and user; ` +
            'refresh a stored token or delete them with /api/v2/oauth2/token/delete.json',
          errorForm,
        ),
        clientId,
      }
    return { answer: VkAdsAnswer.json(200, tokenBody(token)), clientId }
  }
  const refreshToken = form.get('refresh_token')
  if (refreshToken === null || refreshToken === '')
    return { answer: tokenError(400, 'invalid_request', 'refresh_token is required', errorForm), clientId }
  const token = ctx.tokens.refresh(refreshToken, config.clientId, ctx.nowMs, ctx.options.rotateRefreshToken)
  if (token === 'unknown')
    return {
      answer: tokenError(400, 'invalid_grant', 'Unknown refresh token (deleted, or a month unused)', errorForm),
      clientId,
    }
  if (token === 'revoked')
    return { answer: tokenError(401, 'revoked_token', AUTH_ERROR_MESSAGES.revoked_token, errorForm), clientId }
  return { answer: VkAdsAnswer.json(200, tokenBody(token)), clientId }
}

/**
 * `POST /api/v2/oauth2/token/delete.json`: every token of the user (`username` or
 * `user_id`, default the account's own) for this client. Answers 204 (a GUESS).
 */
export function tokenDelete(form: URLSearchParams, ctx: OAuthContext): OAuthOutcome {
  const account = checkClient(form, ctx)
  if (account instanceof VkAdsAnswer) return { answer: account, clientId: undefined }
  const { config } = account
  const username = form.get('username')
  const userId = form.get('user_id')
  if ((username !== null && username !== config.username) || (userId !== null && userId !== String(config.userId)))
    return {
      answer: tokenError(
        400,
        'invalid_request',
        `No user ${username ?? userId ?? ''} under client ${config.clientId}`,
        ctx.options.tokenErrorForm,
      ),
      clientId: config.clientId,
    }
  ctx.tokens.deleteAll(config.clientId, config.userId)
  return { answer: new VkAdsAnswer(204, ''), clientId: config.clientId }
}
