import { afterEach, describe, expect, it } from 'vitest'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { SITE, timedGet } from './http-helpers.ts'

let sim: RunningSimulator | undefined
afterEach(async () => {
  await sim?.close()
  sim = undefined
})

const nodeIdUrl = (s: RunningSimulator): string => `${s.url}/calls-service/RestAPI/${SITE}/getnodeid/`

describe('the per-IP rate limit', () => {
  it('of eleven requests sent at once serves five at once, five about a second later, and answers one 429', async () => {
    sim = await startSimulator({})
    const s = sim
    const answers = await Promise.all(Array.from({ length: 11 }, () => timedGet(nodeIdUrl(s))))
    const ok = answers.filter((a) => a.status === 200).sort((a, b) => a.ms - b.ms)
    const rejected = answers.filter((a) => a.status === 429)
    expect(ok).toHaveLength(10)
    expect(rejected).toHaveLength(1)
    // What was served at once and what waited is the simulator's own count (queued: 5 below);
    // the client's clock only bounds from below, so a busy machine cannot make it fail: the five
    // that waited were answered a second after the burst at the earliest, the 429 before them.
    expect(ok.slice(5).every((a) => a.ms >= 900)).toBe(true)
    expect(rejected[0]!.ms).toBeLessThan(ok[5]!.ms)
    expect(rejected[0]?.retryAfter).toBeUndefined()
    expect(JSON.parse(rejected[0]?.text ?? '')).toEqual({ message: expect.any(String) })
    expect(s.stats()).toMatchObject({
      requests: { total: 11 },
      served: 10,
      rejected429: 1,
      queued: 5,
      maxRequestsInAnySecond: 11,
      maxStartedInAnySecond: 5,
    })
  })

  it('sends Retry-After: 1 with the 429 when the switch is on', async () => {
    sim = await startSimulator({ rateLimit: { retryAfter: true, perSecond: 1, queue: 0 } })
    const s = sim
    const answers = await Promise.all([timedGet(nodeIdUrl(s)), timedGet(nodeIdUrl(s))])
    expect(answers.map((a) => a.status).sort()).toEqual([200, 429])
    expect(answers.find((a) => a.status === 429)?.retryAfter).toBe('1')
  })

  it('keeps one limit per client IP', async () => {
    sim = await startSimulator({ rateLimit: { perSecond: 2, queue: 0 } })
    const s = sim
    const answers = await Promise.all([
      ...Array.from({ length: 3 }, () => timedGet(nodeIdUrl(s), '127.0.0.1')),
      ...Array.from({ length: 3 }, () => timedGet(nodeIdUrl(s), '127.0.0.2')),
    ])
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 429, 429])
    expect(s.stats().maxRequestsInAnySecond).toBe(3)
    // Each address's own count, as a benchmark of workers on several addresses reads it.
    expect(s.stats().byAddress).toEqual({
      '127.0.0.1': { requests: 3, rejected429: 1, maxRequestsInAnySecond: 3, maxStartedInAnySecond: 2 },
      '127.0.0.2': { requests: 3, rejected429: 1, maxRequestsInAnySecond: 3, maxStartedInAnySecond: 2 },
    })
  })

  it('neither counts nor limits admin calls', async () => {
    sim = await startSimulator({ rateLimit: { perSecond: 1, queue: 0 } })
    const s = sim
    const answers = await Promise.all(Array.from({ length: 12 }, () => timedGet(`${s.url}/_sim/stats`)))
    expect(answers.every((a) => a.status === 200)).toBe(true)
    expect(s.stats().requests.total).toBe(0)
  })

  it('serves everything at once when the rate limit is off', async () => {
    sim = await startSimulator({ rateLimit: false })
    const s = sim
    const answers = await Promise.all(Array.from({ length: 20 }, () => timedGet(nodeIdUrl(s))))
    expect(answers.every((a) => a.status === 200)).toBe(true)
    expect(s.stats()).toMatchObject({ served: 20, queued: 0, rejected429: 0, maxRequestsInAnySecond: 20 })
  })
})
