import { messageOf } from '../core/errors.ts'
import { HttpRequestError } from './http-request-error.ts'

/** An answer of any status, its body as the bytes received. */
export interface HttpResponseBytes {
  readonly status: number
  readonly headers: Headers
  /**
   * Never decoded and re-serialized here: numbers wider than a JavaScript
   * number must reach the warehouse as sent, and bytes sit outside the heap.
   */
  readonly body: Buffer
}

export interface FetchBytesOptions {
  /** What is asked for, in words: every message starts with it. */
  readonly what: string
  /** For the whole exchange, body included: a server that stalls mid-body is a timeout too. */
  readonly timeoutMs: number
  readonly method?: 'GET' | 'POST'
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string | Uint8Array
  /** The run being stopped: aborts the request, which is then not worth repeating. */
  readonly stop?: AbortSignal | undefined
  readonly fetch?: typeof fetch
}

/**
 * Sends one request and reads its whole body as bytes within `timeoutMs`.
 * Every status is returned (the source decides what a 4xx means); no answer
 * throws an {@link HttpRequestError} of kind `timeout`, `network` or `stopped`.
 *
 * @example
 * const { status, body } = await fetchBytes(url, { what: 'the API node of site 12345', timeoutMs: 30_000 })
 */
export async function fetchBytes(url: string, options: FetchBytesOptions): Promise<HttpResponseBytes> {
  const { what, timeoutMs, stop } = options
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = stop ? AbortSignal.any([timeout, stop]) : timeout
  const fetchFn = options.fetch ?? globalThis.fetch
  try {
    const response = await fetchFn(url, {
      signal,
      method: options.method ?? 'GET',
      headers: options.headers ?? {},
      ...(options.body === undefined ? {} : { body: options.body }),
    })
    return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) }
  } catch (error) {
    if (stop?.aborted)
      throw new HttpRequestError(`${what}: interrupted, the run is stopping`, 'stopped', { cause: error })
    if (timeout.aborted)
      throw new HttpRequestError(`${what}: no answer within ${timeoutMs} ms`, 'timeout', { cause: error })
    throw new HttpRequestError(`${what}: network error (${networkCause(error)})`, 'network', { cause: error })
  }
}

/** undici hides the reason (ECONNRESET, "other side closed") in `cause`. */
function networkCause(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error
  const code = (cause as { code?: unknown } | null)?.code
  return typeof code === 'string' ? `${code}: ${messageOf(cause)}` : messageOf(cause)
}
