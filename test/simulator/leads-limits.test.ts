import { afterEach, describe, expect, it } from 'vitest'
import { startSimulator, type FaultConfig, type RunningSimulator } from '../../simulator/index.ts'
import { exportUrl, SITE, TOKEN, timedGet } from './http-helpers.ts'

const running: RunningSimulator[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()))
})

async function start(options: Parameters<typeof startSimulator>[0]): Promise<RunningSimulator> {
  const sim = await startSimulator(options)
  running.push(sim)
  return sim
}

const callsUrl = (sim: RunningSimulator): string =>
  `${sim.url}/calls-service/RestAPI/${SITE}/calls-diary/calls?clientApiId=${TOKEN}&dateFrom=20/11/2026&dateTo=20/11/2026`
const requestsUrl = (sim: RunningSimulator): string =>
  `${sim.url}/calls-service/RestAPI/requests?clientApiId=${TOKEN}&siteId=${SITE}&dateFrom=11/20/2026&dateTo=11/20/2026`

describe('the lead journals under the Calltouch limit and faults', () => {
  it('share one 5-a-second limit per IP with the deals export: of eleven at once across the three, one gets 429', async () => {
    const sim = await start({})
    const urls = [
      ...Array.from({ length: 4 }, () => exportUrl(sim, { dateFrom: '20/11/2026', dateTo: '21/11/2026' })),
      ...Array.from({ length: 4 }, () => callsUrl(sim)),
      ...Array.from({ length: 3 }, () => requestsUrl(sim)),
    ]
    const answers = await Promise.all(urls.map((url) => timedGet(url)))
    expect(answers.filter((a) => a.status === 200)).toHaveLength(10)
    expect(answers.filter((a) => a.status === 429)).toHaveLength(1)
    expect(sim.stats()).toMatchObject({
      requests: { total: 11, byEndpoint: { export: 4, calls: 4, requests: 3 } },
      served: 10,
      rejected429: 1,
      queued: 5,
      maxRequestsInAnySecond: 11,
      maxStartedInAnySecond: 5,
    })
  })

  it('get the same seeded server errors as the export, counted in the stats', async () => {
    const faults: FaultConfig = { failureRate: 0.5 }
    const a = await start({ rateLimit: false, faults })
    const b = await start({ rateLimit: false, faults })
    const sequence = async (sim: RunningSimulator): Promise<number[]> => {
      const out: number[] = []
      for (let i = 0; i < 20; i++) out.push((await timedGet(i % 2 === 0 ? callsUrl(sim) : requestsUrl(sim))).status)
      return out
    }
    const statuses = await sequence(a)
    // The n-th request gets the n-th decision whatever its endpoint (faults.test.ts pins the same sequence for the export).
    expect(statuses).toEqual([
      200, 502, 200, 503, 200, 200, 500, 200, 200, 500, 503, 500, 502, 200, 200, 200, 500, 200, 503, 200,
    ])
    expect(await sequence(b)).toEqual(statuses)
    expect(a.stats().faultsInjected.serverError).toBe(statuses.filter((s) => s !== 200).length)
  })

  it('cut bodies mid-JSON, answer 429 bursts and drop connections', async () => {
    const truncating = await start({ rateLimit: false, faults: { truncateRate: 1 } })
    for (const url of [callsUrl(truncating), requestsUrl(truncating)]) {
      const { status, text } = await timedGet(url)
      expect(status).toBe(200)
      expect(text.startsWith('[{')).toBe(true)
      expect(() => JSON.parse(text) as unknown).toThrow()
    }
    expect(truncating.stats().faultsInjected.truncated).toBe(2)
    const bursting = await start({ rateLimit: false, faults: { burst429: { rate: 1, length: 2 } } })
    expect((await timedGet(requestsUrl(bursting))).status).toBe(429)
    expect(bursting.stats().faultsInjected.burst429).toBe(1)
    const resetting = await start({ rateLimit: false, faults: { resetRate: 1 } })
    await expect(timedGet(callsUrl(resetting))).rejects.toThrow()
    expect(resetting.stats().faultsInjected.reset).toBe(1)
  })
})
