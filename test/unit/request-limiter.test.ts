import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createRequestLimiter, REQUEST_PRIORITIES, type RequestLimiter } from '../../pipelines/http/request-limiter.ts'

let server: http.Server | undefined
let limiter: RequestLimiter | undefined

afterEach(async () => {
  await limiter?.stop()
  server?.closeAllConnections()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
  limiter = undefined
})

/** A server answering every request after `delayMs`, recording when each arrived. */
async function serve(delayMs = 0): Promise<{ url: string; arrivals: number[] }> {
  const arrivals: number[] = []
  server = http.createServer((_, response) => {
    arrivals.push(performance.now())
    setTimeout(() => response.end('ok'), delayMs)
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/reports`, arrivals }
}

/** The most arrivals within any `windowMs`. */
function mostWithin(arrivals: readonly number[], windowMs: number): number {
  const sorted = [...arrivals].sort((a, b) => a - b)
  let most = 0
  for (let first = 0, last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= windowMs) first++
    most = Math.max(most, last - first + 1)
  }
  return most
}

describe('a request limiter counting in a longer window', () => {
  it('lets a burst of 4 through at once, then holds the next 4 until the first 4 are a window old', async () => {
    const { url, arrivals } = await serve()
    // A window long enough that spacing (500 ms a request) and a burst cannot be confused on a loaded machine.
    limiter = createRequestLimiter({ requests: 4, perMs: 2000 })
    await Promise.all(
      Array.from({ length: 8 }, () =>
        limiter!.schedule(REQUEST_PRIORITIES.firstPage, url, () => fetch(url).then((response) => response.text())),
      ),
    )
    expect(arrivals).toHaveLength(8)
    expect(limiter.counters).toEqual({ requests: 8, retries: 0 })
    const sorted = [...arrivals].sort((a, b) => a - b)
    // The burst: the first four are not spaced (spaced, they would take 1,500 ms).
    expect(sorted[3]! - sorted[0]!).toBeLessThan(1000)
    // The fifth waits for the window (2,000 ms and the 60 ms allowance for jitter) to pass the first.
    expect(sorted[4]! - sorted[0]!).toBeGreaterThanOrEqual(2000)
    expect(mostWithin(arrivals, 2000)).toBe(4)
  })

  it('keeps 20 requests in any 2 seconds when 30 are asked at once, 5 in flight at most', async () => {
    // Answers slow enough that the burst fills every lane.
    const { url, arrivals } = await serve(150)
    limiter = createRequestLimiter({ requests: 20, perMs: 2000, maxInFlight: 5 })
    let inFlight = 0
    let mostInFlight = 0
    const started = performance.now()
    const finished: number[] = []
    await Promise.all(
      Array.from({ length: 30 }, () =>
        limiter!.schedule(REQUEST_PRIORITIES.firstPage, url, async () => {
          inFlight += 1
          mostInFlight = Math.max(mostInFlight, inFlight)
          try {
            return await fetch(url).then((response) => response.text())
          } finally {
            inFlight -= 1
            finished.push(performance.now() - started)
          }
        }),
      ),
    )
    expect(mostWithin(arrivals, 2000)).toBe(20)
    expect(mostInFlight).toBe(5)
    expect(Math.max(...finished)).toBeGreaterThanOrEqual(2000)
  })

  it('refuses a budget of no requests or no window', () => {
    expect(() => createRequestLimiter({ requests: 0, perMs: 10_000 })).toThrow(
      new RangeError('requests must be a whole number above 0, got 0'),
    )
    expect(() => createRequestLimiter({ requests: 20, perMs: 0 })).toThrow(
      new RangeError('perMs must be above 0, got 0'),
    )
  })
})
