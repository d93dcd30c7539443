/**
 * The egress and the send windows shared in Redis, in one process over real HTTP and real Redis:
 * two connections stand for two processes on one address.
 */
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import { openEgress, type Egress } from '../../pipelines/http/egress.ts'
import { createRequestLimiters, REQUEST_PRIORITIES } from '../../pipelines/http/request-limiter.ts'
import { connectSharedSendWindows, type SharedSendWindows } from '../../pipelines/http/shared-send-windows.ts'
import { describeWithRedis, startPrivateRedis, TEST_REDIS_URL } from '../helpers/redis-server.ts'

const servers: http.Server[] = []
const opened: { close(): Promise<void> }[] = []

afterEach(async () => {
  await Promise.all(opened.splice(0).map((resource) => resource.close()))
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
})

/** A server on `host` recording when each request arrived and from which address. */
async function serve(host: string): Promise<{ url: string; arrivals: { atMs: number; from: string }[] }> {
  const arrivals: { atMs: number; from: string }[] = []
  const server = http.createServer((request, response) => {
    arrivals.push({ atMs: performance.now(), from: request.socket.remoteAddress ?? '?' })
    // Answers at uneven speeds, as an API does.
    setTimeout(() => response.end('ok'), 20 + (arrivals.length % 4) * 40)
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/calls`, arrivals }
}

/** The most arrivals within any one second. */
function mostInAnySecond(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b)
  let most = 0
  for (let first = 0, last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= 1000) first++
    most = Math.max(most, last - first + 1)
  }
  return most
}

async function keep<T extends { close(): Promise<void> }>(resource: Promise<T>): Promise<T> {
  const value = await resource
  opened.push(value)
  return value
}

it('binds to the address given, written as every process writes it, and refuses one the machine lacks', async () => {
  const { url, arrivals } = await serve('::1')
  const egress: Egress = await keep(openEgress({ address: '0:0:0:0:0:0:0:1' }))
  expect(egress.address).toBe('::1')
  expect(await (await egress.fetch(`${url}?page=1`)).text()).toBe('ok')
  expect(arrivals.map((arrival) => arrival.from)).toEqual(['::1'])
  expect(egress.describe('calltouch')).toBe(
    "requests leave from ::1; calltouch's limit is counted by this process alone",
  )
  await expect(openEgress({ address: '198.51.100.7', settingNames: { address: '--egress-address' } })).rejects.toThrow(
    '--egress-address 198.51.100.7 is not an address of this machine (EADDRNOTAVAIL): give one of its own addresses (ip -brief address lists them), or unset it to send from the default route',
  )
})

describeWithRedis('send windows shared in Redis', () => {
  it('holds two processes on one address to 5 requests in any second together, and names the window after budget and address', async () => {
    const { url, arrivals } = await serve('127.0.0.1')
    // An address of its own for this test, so that no other test's requests share the window.
    const egressKey = `test-${randomUUID()}`
    const processes = await Promise.all(
      [1, 2].map(() => keep(connectSharedSendWindows({ redisUrl: TEST_REDIS_URL, egressKey }))),
    )
    expect(processes[0]?.keyOf('calltouch')).toBe(`calltouch@${egressKey}`)
    const limiters = processes.map((shared: SharedSendWindows) =>
      createRequestLimiters({ calltouch: { requestsPerSecond: 5, maxRequestsPerSecond: 5 } }, shared),
    )
    opened.push(...limiters.map((limiters) => ({ close: () => limiters.stop() })))
    const started = performance.now()
    await Promise.all(
      limiters.flatMap((limiters) =>
        Array.from({ length: 15 }, (_, page) =>
          limiters
            .limiterFor('calltouch')
            .schedule(REQUEST_PRIORITIES.firstPage, `${url}?page=${page}`, () =>
              fetch(`${url}?page=${page}`).then((response) => response.text()),
            ),
        ),
      ),
    )
    expect(arrivals).toHaveLength(30)
    expect(mostInAnySecond(arrivals.map((arrival) => arrival.atMs))).toBe(5)
    // 30 requests, 5 per 1,060 ms: the 26th waits 5 windows after the first.
    expect(performance.now() - started).toBeGreaterThanOrEqual(5 * 1060)
    for (const limiter of limiters)
      expect(limiter.limiterFor('calltouch').counters).toEqual({ requests: 15, retries: 0 })
  })

  it('aborts its lost signal and refuses every request once Redis is gone, in one line naming it', async () => {
    const { url } = await serve('127.0.0.1')
    const redis = await startPrivateRedis()
    try {
      const shared = await keep(connectSharedSendWindows({ redisUrl: redis.url, egressKey: '127.0.0.2' }))
      const limiter = createRequestLimiters({ calltouch: { requestsPerSecond: 5 } }, shared).limiterFor('calltouch')
      opened.push({ close: () => limiter.stop() })
      const send = (): Promise<string> =>
        limiter.schedule(REQUEST_PRIORITIES.firstPage, url, () => fetch(url).then((response) => response.text()))
      expect(await send()).toBe('ok')
      expect(shared.lost.aborted).toBe(false)
      await redis.kill()
      // The connection's close arrives a moment after the server died.
      if (!shared.lost.aborted)
        await new Promise((resolve) => shared.lost.addEventListener('abort', resolve, { once: true }))
      const line = `the shared request limit is lost: Redis at ${redis.url} (CALLTOUCH_ETL_REDIS_URL) stopped answering (connection closed); the run stops rather than send unlimited: start Redis and run again`
      await expect(send()).rejects.toThrow(line)
      expect(shared.lost.aborted).toBe(true)
      expect((shared.lost.reason as Error).message).toBe(line)
    } finally {
      await redis.kill()
    }
  })
})
