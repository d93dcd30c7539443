import type { HttpResponseBytes } from '../../http/fetch-bytes.ts'
import { HttpRequestError } from '../../http/http-request-error.ts'

/**
 * What Yandex Direct's refusals mean for a run (shared/yandex-direct/API.md §4, §10; the codes'
 * list: https://yandex.ru/dev/direct/doc/en/concepts/errors-list):
 * - `retry`: repeated at once with backoff (500, a 502 the first time, 52, 1000–1002, an answer
 *   that cannot be read, no answer);
 * - `back-off`: a limit of the advertiser was hit (9000 queue full, 56 request limit, 506 too many
 *   at once, 152 out of points): the same request is sent again after a longer wait;
 * - `split`: a report that took too long to build, again (502): its range is read as two halves;
 * - `fail-range`: the range is given up for this run (a report never ready, retries spent);
 * - `fail-account`: nothing of the account can be read until someone fixes it (53, 54, 58, 513,
 *   any other 4xx).
 */
export const DIRECT_FAILURE_ACTIONS = ['retry', 'back-off', 'split', 'fail-range', 'fail-account'] as const
export type DirectFailureAction = (typeof DIRECT_FAILURE_ACTIONS)[number]

/** The error object of every Direct service: `{"error": {request_id, error_code, error_string, error_detail}}`. */
export interface DirectApiErrorBody {
  readonly requestId: string | undefined
  readonly errorCode: number | undefined
  readonly errorString: string | undefined
  readonly errorDetail: string | undefined
}

/** Codes worth repeating at once: the authorization server (52) or Direct itself (1000–1002) was briefly down. */
const RETRY_CODES: ReadonlySet<number> = new Set([52, 1000, 1001, 1002])

/**
 * Codes of a limit, and how many seconds to wait before the same request when the answer names
 * no `retryIn`: the 10-second request window (56), a moment (506), a queue slot freeing (9000),
 * points refilled hourly (152).
 */
export const BACK_OFF_SECONDS: Readonly<Record<number, number>> = Object.freeze({
  56: 10,
  506: 2,
  9000: 30,
  152: 60,
})

/** An account of env mode (config.ts names it `environment (YANDEX_DIRECT_TOKEN)`), not of the config file. */
export function isEnvironmentAccount(where: string): boolean {
  return where.startsWith('environment')
}

/** Where the account's token is set: its variable in env mode, its entry of the config file otherwise. */
export function tokenSetting(where: string): string {
  return isEnvironmentAccount(where) ? 'YANDEX_DIRECT_TOKEN' : `${where}.token (or its tokenEnv variable)`
}

/** Where the account's client login is set. */
export function clientLoginSetting(where: string): string {
  return isEnvironmentAccount(where) ? 'YANDEX_DIRECT_CLIENT_LOGIN' : `${where}.clientLogin`
}

/** The one-line fix for a refusal of the account, by code; `where` is the account's place in the configuration. */
const ACCOUNT_FIXES: Readonly<Record<number, (where: string) => string>> = Object.freeze({
  53: (where: string) =>
    `Yandex Direct refused the token: get a new OAuth token at oauth.yandex.ru for an app with Direct API access and set it in ${tokenSetting(where)}`,
  54: (where: string) =>
    `Yandex Direct refused access to the advertiser: with an agency's token set the advertiser's login in ${clientLoginSetting(where)}; with the advertiser's own token check that its user may use the API`,
  58: (where: string) =>
    `Yandex Direct has not approved the app's API access: finish the app's registration in the Direct API settings (direct.yandex.ru → API) and approve the token's app, then run again (account ${where})`,
  513: (where: string) =>
    `Yandex Direct knows the token's user but no Direct account of it: set the token of the advertiser or its agency in ${tokenSetting(where)}`,
})

/** A refused or unreadable Direct answer, with the vendor's words and what the run does about it. */
export class DirectApiError extends HttpRequestError {
  readonly action: DirectFailureAction
  readonly errorCode: number | undefined
  readonly requestId: string | undefined

  constructor(
    message: string,
    options: {
      readonly action: DirectFailureAction
      readonly kind?: 'status' | 'invalid-body'
      readonly response?: { readonly status: number; readonly headers: Headers }
      readonly errorCode?: number | undefined
      readonly requestId?: string | undefined
      readonly cause?: unknown
    },
  ) {
    super(message, options.kind ?? 'status', { response: options.response, cause: options.cause, answer: message })
    this.name = 'DirectApiError'
    this.action = options.action
    this.errorCode = options.errorCode
    this.requestId = options.requestId
  }
}

/** The error object of a body, or undefined when the body is not one (a 502 may answer HTML). */
export function parseDirectErrorBody(body: Buffer): DirectApiErrorBody | undefined {
  let json: unknown
  try {
    json = JSON.parse(body.toString('utf8'))
  } catch {
    return undefined
  }
  const error = (json as { error?: unknown } | null)?.error
  if (typeof error !== 'object' || error === null) return undefined
  const { request_id, error_code, error_string, error_detail } = error as Record<string, unknown>
  // The code is a number in the docs' samples, a string in some clients' (API.md, Unknowns).
  const code = typeof error_code === 'number' ? error_code : Number(error_code)
  return {
    requestId: textOf(request_id),
    errorCode: Number.isInteger(code) ? code : undefined,
    errorString: textOf(error_string),
    errorDetail: textOf(error_detail),
  }
}

function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number') return String(value)
  return undefined
}

/** The action for a refusal: its code decides, else its HTTP status. */
export function actionFor(status: number, errorCode: number | undefined): DirectFailureAction {
  if (errorCode !== undefined) {
    if (RETRY_CODES.has(errorCode)) return 'retry'
    if (Object.hasOwn(BACK_OFF_SECONDS, errorCode)) return 'back-off'
  }
  if (status >= 500 || status === 429) return 'retry'
  return 'fail-account'
}

/**
 * The error for a refused answer (`response` is not 200/201/202), in the vendor's words, with the
 * fix when the account must be repaired. `what` names the request; `where` the account's config.
 *
 * @example
 * refusal(response, { what: 'report of shop-client 2026-11-01..2026-11-30', where: 'adAccounts[1]' })
 * // DirectApiError: "Yandex Direct refused the token (error 53 Authorization error: Invalid OAuth token; RequestId 123): get a new OAuth token …"
 */
export function refusal(response: HttpResponseBytes, context: { what: string; where: string }): DirectApiError {
  const body = parseDirectErrorBody(response.body)
  const requestId = body?.requestId ?? response.headers.get('requestid') ?? undefined
  const errorCode = body?.errorCode
  const action = actionFor(response.status, errorCode)
  const vendor = vendorWords(response, body, requestId)
  const fix = errorCode === undefined ? undefined : ACCOUNT_FIXES[errorCode]
  const message =
    action === 'fail-account' && fix !== undefined
      ? insertVendorWords(fix(context.where), vendor)
      : `${context.what}: Yandex Direct answered ${vendor}${action === 'fail-account' ? `; fix the account in ${context.where} or the request, then run again` : ''}`
  return new DirectApiError(message, { action, response, errorCode, requestId })
}

/** `HTTP 400, error 53 Authorization error: Invalid OAuth token, RequestId 123`: what support needs. */
function vendorWords(response: HttpResponseBytes, body: DirectApiErrorBody | undefined, requestId?: string): string {
  const parts = [`HTTP ${response.status}`]
  if (body === undefined) {
    const text = response.body.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200)
    parts.push(text === '' ? '(empty answer)' : `not an error object: ${JSON.stringify(text)}`)
  } else {
    const words = [body.errorString, body.errorDetail].filter((word) => word !== undefined && word !== '').join(': ')
    parts.push(`error ${body.errorCode ?? '(no code)'}${words === '' ? '' : ` ${words}`}`)
  }
  if (requestId !== undefined) parts.push(`RequestId ${requestId}`)
  return parts.join(', ')
}

/** "Yandex Direct refused the token: get …" becomes "Yandex Direct refused the token (HTTP 400, error 53 …): get …". */
function insertVendorWords(fix: string, vendor: string): string {
  const colon = fix.indexOf(': ')
  return colon === -1 ? `${fix} (${vendor})` : `${fix.slice(0, colon)} (${vendor})${fix.slice(colon)}`
}
