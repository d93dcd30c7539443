import { EtlError } from '../../core/errors.ts'
import type { HttpResponseBytes } from '../../http/fetch-bytes.ts'
import { HttpRequestError, type HttpRequestErrorOptions } from '../../http/http-request-error.ts'

/**
 * VK Ads' errors as the client meets them (shared/vk-ads/API.md §2.4, §4.4, §5): the codes that
 * replace a token, those that stop an account, and how long a 429 asks to wait.
 */

/** 401 codes a new access token cures: refresh (or mint), then replay the call once (§2.4). */
export const TOKEN_REPLACEMENT_CODES: readonly string[] = ['invalid_token', 'expired_token']

/** 401 codes no token cures: the account stops, with the fix (§2.4). */
export const ACCOUNT_STOP_CODES: readonly string[] = ['invalid_client', 'invalid_user', 'revoked_token']

/** What VK said: its error code and message, from any of the bodies it uses. */
export interface VkAdsErrorBody {
  readonly code: string | undefined
  readonly message: string | undefined
}

/**
 * A refused or unreadable VK Ads answer. `retryable` is decided where the answer is read, since
 * only there is it known whether a 429's wait fits in a run; `vkCode` is VK's own error code.
 */
export class VkAdsApiError extends HttpRequestError {
  readonly vkCode: string | undefined
  readonly retryable: boolean

  constructor(
    message: string,
    kind: 'status' | 'invalid-body',
    options: HttpRequestErrorOptions & { readonly vkCode?: string | undefined; readonly retryable: boolean },
  ) {
    super(message, kind, options)
    this.name = 'VkAdsApiError'
    this.vkCode = options.vkCode
    this.retryable = options.retryable
  }
}

/**
 * A failure of the whole account (a refused token, a wrong client secret, a blocked user, a daily
 * limit used up): its message is the one line an operator reads, with the fix. The sync records
 * every planned day failed with it and goes on with the next account.
 */
export class VkAdsAccountError extends EtlError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('API', message, options)
    this.name = 'VkAdsAccountError'
  }
}

/**
 * VK's error code and message from `{"error":{"code","message"}}` (statistics, base errors),
 * `{"code","message"}` (401), OAuth's `{"error","error_description"}` (GUESS for the token
 * endpoint), or else the `WWW-Authenticate` header's `error="…"`.
 */
export function vkErrorOf(response: Pick<HttpResponseBytes, 'body' | 'headers'>): VkAdsErrorBody {
  let code: unknown
  let message: unknown
  try {
    const json = JSON.parse(response.body.toString('utf8')) as Record<string, unknown> | null
    const nested = json?.error
    if (typeof nested === 'object' && nested !== null) {
      ;({ code, message } = nested as Record<string, unknown>)
    } else if (typeof nested === 'string') {
      code = nested
      message = json?.error_description
    } else {
      code = json?.code
      message = json?.message
    }
  } catch {
    // Not JSON (a proxy's page): the header may still say it.
  }
  if (typeof code !== 'string') {
    const header = response.headers.get('www-authenticate') ?? ''
    code = /\berror="([^"]*)"/.exec(header)?.[1]
  }
  return {
    code: typeof code === 'string' && code !== '' ? code : undefined,
    message: typeof message === 'string' && message !== '' ? oneLine(message) : undefined,
  }
}

/** VK's words for a refusal, `<code>: <message>`, or the start of a body that is neither. */
export function describeVkError(response: HttpResponseBytes): string {
  const { code, message } = vkErrorOf(response)
  if (code !== undefined || message !== undefined) return [code, message].filter(Boolean).join(': ')
  return oneLine(response.body.toString('utf8').slice(0, 200)) || '(empty answer)'
}

/** The largest wait a 429 is retried after; a longer one (an hour's or a day's limit used up) stops the account. */
export const MAX_RATE_LIMIT_WAIT_MS = 60_000

const MS_PER_SECOND = 1000
const MS_PER_HOUR = 3_600_000
/** Past a window's boundary by this much, so the server's clock has crossed it too. */
const BOUNDARY_MARGIN_MS = 100

/**
 * How long a 429 asks to wait. `Retry-After` when sent (undocumented: honoured when present);
 * else VK's calendar windows (§5): the next hour when `X-RateLimit-Hourly-Remaining` is 0, for
 * ever (undefined) when the daily one is, else the next second.
 */
export function rateLimitWaitMs(headers: Headers, retryAfterMs: number | undefined, nowMs: number): number | undefined {
  if (retryAfterMs !== undefined) return retryAfterMs
  if (headers.get('x-ratelimit-daily-remaining')?.trim() === '0') return undefined
  if (headers.get('x-ratelimit-hourly-remaining')?.trim() === '0')
    return MS_PER_HOUR - (nowMs % MS_PER_HOUR) + BOUNDARY_MARGIN_MS
  return MS_PER_SECOND - (nowMs % MS_PER_SECOND) + BOUNDARY_MARGIN_MS
}

/** Headers with `Retry-After` set to `waitMs` (rounded up to seconds), so the http layer waits that long. */
export function withRetryAfter(headers: Headers, waitMs: number): Headers {
  const copy = new Headers(headers)
  copy.set('retry-after', String(Math.max(1, Math.ceil(waitMs / MS_PER_SECOND))))
  return copy
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim()
}
