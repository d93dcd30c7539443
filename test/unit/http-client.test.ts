import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { registerSecret } from '../../pipelines/core/secrets.ts'
import { createHttpClient, type HttpClientConfig } from '../../pipelines/http/http-client.ts'
import type { HttpResponseBytes } from '../../pipelines/http/fetch-bytes.ts'
import { HttpRequestError, retryAfterMs } from '../../pipelines/http/http-request-error.ts'
import {
  createRequestLimiter,
  createRequestLimiters,
  REQUEST_PRIORITIES,
  type RequestLimiter,
} from '../../pipelines/http/request-limiter.ts'

const TOKEN = 'http-layer/Secret+42'
registerSecret(TOKEN)

/** How a scripted server answers one request. */
type Answer = (response: http.ServerResponse) => void

let server: http.Server | undefined
let limiter: RequestLimiter | undefined

afterEach(async () => {
  await limiter?.stop()
  server?.closeAllConnections()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
  limiter = undefined
})

/** A server giving `answers` in turn (the last one for ever), recording when each request arrived. */
async function serve(answers: readonly Answer[]): Promise<{ url: string; arrivals: number[] }> {
  const arrivals: number[] = []
  server = http.createServer((_, response) => {
    arrivals.push(performance.now())
    const answer = answers[Math.min(arrivals.length, answers.length) - 1]
    answer?.(response)
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/export?token=${encodeURIComponent(TOKEN)}`, arrivals }
}

const status =
  (code: number, headers: Record<string, string> = {}): Answer =>
  (response) =>
    response.writeHead(code, headers).end(`{"error":"status ${code}"}`)
const ok =
  (body: Buffer): Answer =>
  (response) =>
    response.writeHead(200, { 'content-type': 'application/json' }).end(body)
/** Headers and half a body, then silence: only a timeout that covers the body ends it. */
const stall: Answer = (response) => {
  response.writeHead(200, { 'content-type': 'application/json' })
  response.write('{"records":[')
}

/** A source that refuses every non-200 answer, retrying 429 and 5xx only (Calltouch's rule). */
function client(overrides: Partial<HttpClientConfig> = {}) {
  limiter = createRequestLimiter({ requestsPerSecond: 100 })
  return createHttpClient({
    limiter,
    timeoutMs: 2000,
    maxRetries: 3,
    minRetryDelayMs: 10,
    shouldRetry: (error) => error.kind !== 'status' || error.status === 429 || (error.status ?? 0) >= 500,
    ...overrides,
  })
}

function request(url: string) {
  return {
    url,
    what: `the export at ${url}`,
    priority: REQUEST_PRIORITIES.firstPage,
    read: (response: HttpResponseBytes): Buffer => {
      if (response.status !== 200)
        throw new HttpRequestError(`the export at ${url}: HTTP ${response.status}`, 'status', { response })
      return response.body
    },
  }
}

describe('the http client', () => {
  it('repeats a 503 and a 500, then returns the third answer as the very bytes sent, counting 3 requests and 2 retries', async () => {
    const body = Buffer.from('{"records":[{"fio":"Иванов","big":99999999999999999999999999999999999999}]}', 'utf8')
    const { url, arrivals } = await serve([status(503), status(500), ok(body)])
    const received = await client().request(request(url))
    expect(received.equals(body)).toBe(true)
    expect(arrivals).toHaveLength(3)
    expect(limiter?.counters).toEqual({ requests: 3, retries: 2 })
  })

  it('waits at least the seconds Retry-After asks before repeating a 429', async () => {
    const { url, arrivals } = await serve([status(429, { 'retry-after': '1' }), ok(Buffer.from('{}'))])
    await client().request(request(url))
    expect(arrivals).toHaveLength(2)
    const waitedMs = arrivals[1]! - arrivals[0]!
    expect(waitedMs).toBeGreaterThanOrEqual(990)
    // 1,000 ms asked, plus one backoff of at most 2 × 10 ms and the limiter's spacing.
    expect(waitedMs).toBeLessThan(1400)
  })

  it('fails a 400 at once, with the token redacted from its message', async () => {
    const { url, arrivals } = await serve([status(400)])
    const error = await client()
      .request(request(url))
      .catch((thrown: unknown) => thrown)
    expect(error).toBeInstanceOf(HttpRequestError)
    expect(arrivals).toHaveLength(1)
    expect(limiter?.counters).toEqual({ requests: 1, retries: 0 })
    const failure = error as HttpRequestError
    expect(failure.kind).toBe('status')
    expect(failure.status).toBe(400)
    expect(failure.message).toBe(
      `the export at http://127.0.0.1:${new URL(url).port}/export?token=[REDACTED]: HTTP 400`,
    )
    expect(failure.message).not.toContain('Secret')
  })

  it('gives up after maxRetries + 1 attempts and throws the last failure', async () => {
    const { url, arrivals } = await serve([status(502)])
    const error = await client({ maxRetries: 2 })
      .request(request(url))
      .catch((thrown: unknown) => thrown)
    expect(arrivals).toHaveLength(3)
    expect(limiter?.counters).toEqual({ requests: 3, retries: 2 })
    expect((error as HttpRequestError).status).toBe(502)
  })

  it('times out a body that stalls, retries it, and says how long it waited', async () => {
    const { url, arrivals } = await serve([stall])
    const started = performance.now()
    const error = await client({ timeoutMs: 200, maxRetries: 1 })
      .request(request(url))
      .catch((thrown: unknown) => thrown)
    expect(arrivals).toHaveLength(2)
    expect(performance.now() - started).toBeGreaterThanOrEqual(400)
    expect((error as HttpRequestError).kind).toBe('timeout')
    expect((error as HttpRequestError).message).toMatch(/^the export at .*token=\[REDACTED\]: no answer within 200 ms$/)
  })

  it('retries a body the source cannot read when it throws invalid-body', async () => {
    const { url, arrivals } = await serve([ok(Buffer.from('{"records":[')), ok(Buffer.from('{"records":[]}'))])
    const read = (response: HttpResponseBytes): unknown => {
      try {
        return JSON.parse(response.body.toString('utf8'))
      } catch (cause) {
        throw new HttpRequestError(`the export: not JSON`, 'invalid-body', { cause })
      }
    }
    await expect(client().request({ ...request(url), read })).resolves.toEqual({ records: [] })
    expect(arrivals).toHaveLength(2)
    expect(limiter?.counters).toEqual({ requests: 2, retries: 1 })
  })

  it('aborts a request in flight when the run stops, and does not repeat it', async () => {
    const { url, arrivals } = await serve([stall])
    const stop = new AbortController()
    const pending = client({ signal: stop.signal })
      .request(request(url))
      .catch((thrown: unknown) => thrown)
    setTimeout(() => stop.abort(), 100)
    const error = (await pending) as HttpRequestError
    expect(error.kind).toBe('stopped')
    expect(error.message).toMatch(/: interrupted, the run is stopping$/)
    expect(arrivals).toHaveLength(1)
    expect(limiter?.counters.retries).toBe(0)
  })

  it('sends a POST body and headers through an injected fetch', async () => {
    const seen: { method?: string | undefined; body?: unknown; auth?: string | null }[] = []
    const fetch: typeof globalThis.fetch = async (_, init) => {
      seen.push({ method: init?.method, body: init?.body, auth: new Headers(init?.headers).get('authorization') })
      return new Response('ok', { status: 200 })
    }
    const text = await client({ fetch }).request({
      url: 'https://api.example.test/reports',
      what: 'a report',
      priority: REQUEST_PRIORITIES.firstPage,
      method: 'POST',
      headers: { authorization: 'Bearer x' },
      body: '{"a":1}',
      read: ({ body }) => body.toString('utf8'),
    })
    expect(text).toBe('ok')
    expect(seen).toEqual([{ method: 'POST', body: '{"a":1}', auth: 'Bearer x' }])
  })
})

describe('Retry-After', () => {
  it('reads delay-seconds and HTTP dates, and nothing else', () => {
    const now = Date.parse('2026-11-02T10:00:00Z')
    expect(retryAfterMs('2', now)).toBe(2000)
    expect(retryAfterMs('0', now)).toBe(0)
    expect(retryAfterMs('Mon, 02 Nov 2026 10:00:30 GMT', now)).toBe(30_000)
    expect(retryAfterMs('Mon, 02 Nov 2026 09:00:00 GMT', now)).toBe(0)
    expect(retryAfterMs(null, now)).toBeUndefined()
    expect(retryAfterMs('', now)).toBeUndefined()
    expect(retryAfterMs('soon', now)).toBeUndefined()
    expect(retryAfterMs('-5', now)).toBeUndefined()
  })
})

describe('request limiters keyed by budget', () => {
  it('gives every host of one named budget the same limiter, and each API host its own', async () => {
    const limiters = createRequestLimiters({
      calltouch: { requestsPerSecond: 5 },
      'api.direct.yandex.com': { requestsPerSecond: 2 },
      'ads.vk.com': { requestsPerSecond: 2 },
    })
    try {
      expect(limiters.limiterFor('calltouch')).toBe(limiters.limiterFor('calltouch'))
      expect(limiters.limiterFor('https://api.direct.yandex.com/json/v5/reports')).toBe(
        limiters.limiterFor('https://api.direct.yandex.com/json/v5/changes'),
      )
      expect(limiters.limiterFor('https://ads.vk.com/api/v2/statistics')).not.toBe(
        limiters.limiterFor('https://api.direct.yandex.com/json/v5/reports'),
      )
      expect(limiters.limiterFor('calltouch')).not.toBe(limiters.limiterFor('https://ads.vk.com/api/v2/statistics'))
    } finally {
      await limiters.stop()
    }
  })

  it('refuses a budget nobody configured instead of sending unthrottled', async () => {
    const limiters = createRequestLimiters({ calltouch: { requestsPerSecond: 5 } })
    expect(() => limiters.limiterFor('https://api.unknown.test/x')).toThrow(
      "no request budget named api.unknown.test: give its vendor's rate limit to createRequestLimiters (configured: calltouch)",
    )
    await limiters.stop()
  })

  it('lowers a rate above the vendor ceiling to it: 3 requests a second asked of a ceiling of 1 are spaced a second apart', async () => {
    const ceiling = createRequestLimiter({ requestsPerSecond: 3, maxRequestsPerSecond: 1 })
    const starts: number[] = []
    try {
      await Promise.all(
        [1, 2].map(() =>
          ceiling.schedule(
            REQUEST_PRIORITIES.firstPage,
            'http://127.0.0.1:9/x',
            async () => void starts.push(performance.now()),
          ),
        ),
      )
    } finally {
      await ceiling.stop()
    }
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(990)
  })
})
