import { EtlError } from '../core/errors.ts'
import { redact } from '../core/secrets.ts'

/**
 * Why a request failed, for the source's retry decision: `status` an answer it
 * refused, `invalid-body` an answer it could not read, `network` and `timeout`
 * no answer, `stopped` the run being stopped (never retried).
 */
export const HTTP_FAILURE_KINDS = ['status', 'invalid-body', 'network', 'timeout', 'stopped'] as const
export type HttpFailureKind = (typeof HTTP_FAILURE_KINDS)[number]

export interface HttpRequestErrorOptions {
  /** The refused answer: its status and its `Retry-After` are kept. */
  readonly response?: { readonly status: number; readonly headers: Headers }
  /** What the API answered, without which request it was (for a refusal that applies to every request of an account). */
  readonly answer?: string
  readonly cause?: unknown
}

/**
 * A failed request, described without secrets: the message and the answer pass
 * `redact` here, so no error of any source can carry a token however it was built.
 */
export class HttpRequestError extends EtlError {
  readonly kind: HttpFailureKind
  readonly status: number | undefined
  /** How long the API asked to wait (`Retry-After`, seconds or an HTTP date), in ms. */
  readonly retryAfterMs: number | undefined
  readonly answer: string | undefined

  constructor(message: string, kind: HttpFailureKind, options: HttpRequestErrorOptions = {}) {
    const status = options.response?.status
    super('API', redact(message), { cause: options.cause, context: { status } })
    this.name = 'HttpRequestError'
    this.kind = kind
    this.status = status
    this.retryAfterMs = retryAfterMs(options.response?.headers.get('retry-after') ?? null)
    this.answer = options.answer === undefined ? undefined : redact(options.answer)
  }
}

/**
 * `Retry-After` as delay-seconds or as an HTTP date (RFC 9110 §10.2.3), in ms
 * from `now`; undefined when absent or unreadable.
 */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null) return undefined
  const value = header.trim()
  if (/^\d+$/.test(value)) return Number(value) * 1000
  // Only an IMF date names a weekday and month; Date.parse would take "-5" for a year.
  const at = /^[A-Za-z]{3},/.test(value) ? Date.parse(value) : Number.NaN
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
