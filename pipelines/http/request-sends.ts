import diagnosticsChannel from 'node:diagnostics_channel'

/** Published by undici (Node's fetch, and the `undici` package) when a request's headers are written to the socket. */
const SEND_HEADERS_CHANNEL = 'undici:client:sendHeaders'

/**
 * The name under which a request to `url` is seen leaving: its origin, path and query, as undici
 * reports a sent request ({@link watchRequestSends}).
 *
 * @example sendKeyOf('https://api.calltouch.ru/calls-service/RestAPI/1/calls-diary/calls?page=2') // the URL without a fragment
 */
export function sendKeyOf(url: string): string {
  const parsed = new URL(url)
  return `${parsed.origin}${parsed.pathname}${parsed.search}`
}

/**
 * Calls `onSend` with the {@link sendKeyOf} of every request of the process whose headers go out
 * on a socket, whichever dispatcher sends it; returns the function that stops watching. A limiter
 * counts a request from then, not from when it was scheduled: a process whose event loop stalls
 * would otherwise send a backlog of "spaced" requests in one burst.
 *
 * @example
 * const stopWatching = watchRequestSends((key) => markSent(key))
 * stopWatching()
 */
export function watchRequestSends(onSend: (sendKey: string) => void): () => void {
  const listener = (message: unknown): void => {
    const request = (message as { request?: { origin?: unknown; path?: unknown } }).request
    onSend(`${String(request?.origin)}${String(request?.path)}`)
  }
  diagnosticsChannel.subscribe(SEND_HEADERS_CHANNEL, listener)
  return () => diagnosticsChannel.unsubscribe(SEND_HEADERS_CHANNEL, listener)
}
