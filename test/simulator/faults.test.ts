import { afterEach, describe, expect, it } from 'vitest'
import { startSimulator, type FaultConfig, type RunningSimulator } from '../../simulator/index.ts'
import { exportUrl, postJson, SITE, timedGet } from './http-helpers.ts'

const running: RunningSimulator[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()))
})

async function start(faults: FaultConfig, seed = 1): Promise<RunningSimulator> {
  const sim = await startSimulator({ rateLimit: false, seed, faults })
  running.push(sim)
  return sim
}

const dayParams = { dateFrom: '20/11/2026', dateTo: '21/11/2026', withAllOrderOrigins: 'true' }

/** Statuses of n sequential export requests; 'reset' when the connection was dropped. */
async function statuses(sim: RunningSimulator, n: number): Promise<(number | 'reset')[]> {
  const out: (number | 'reset')[] = []
  for (let i = 0; i < n; i++) {
    try {
      out.push((await timedGet(exportUrl(sim, dayParams))).status)
    } catch {
      out.push('reset')
    }
  }
  return out
}

describe('fault injection', () => {
  it('answers a seeded share of requests 500, 502 or 503, the same on every run', async () => {
    const [a, b] = [await start({ failureRate: 0.5 }), await start({ failureRate: 0.5 })]
    const first = await statuses(a, 20)
    expect(await statuses(b, 20)).toEqual(first)
    expect(first).toEqual([
      200, 502, 200, 503, 200, 200, 500, 200, 200, 500, 503, 500, 502, 200, 200, 200, 500, 200, 503, 200,
    ])
    expect(a.stats().faultsInjected.serverError).toBe(first.filter((s) => s !== 200).length)
  })

  it('answers bursts of consecutive 429s', async () => {
    const sim = await start({ burst429: { rate: 0.1, length: 3 } })
    const got = await statuses(sim, 30)
    expect(got.join(',')).toMatch(/^(200,|429,429,429,)*(200|429)?(,429)*$/)
    expect(got.filter((s) => s === 429).length).toBe(sim.stats().faultsInjected.burst429)
    expect(got).toEqual(await statuses(await start({ burst429: { rate: 0.1, length: 3 } }), 30))
    expect(got).toContain(429)
  })

  it('cuts bodies off mid-JSON with a 200', async () => {
    const sim = await start({ truncateRate: 1 })
    const { status, text } = await timedGet(exportUrl(sim, dayParams))
    expect(status).toBe(200)
    expect(text.startsWith('{"records":[{')).toBe(true)
    expect(() => JSON.parse(text)).toThrow()
    expect(sim.stats().faultsInjected.truncated).toBe(1)
  })

  it('resets connections without an answer', async () => {
    const sim = await start({ resetRate: 1 })
    await expect(fetch(exportUrl(sim, dayParams))).rejects.toThrow()
    expect(sim.stats().faultsInjected.reset).toBe(1)
  })

  it('answers slower than a client timeout', async () => {
    const sim = await start({ slowRate: 1, slowMs: 1500 })
    await expect(fetch(exportUrl(sim, dayParams), { signal: AbortSignal.timeout(200) })).rejects.toThrow()
    expect(sim.stats().faultsInjected.slow).toBe(1)
  })

  it('inserts a deal into the window between two page requests, so page 2 shifts by one', async () => {
    const sim = await start({ shiftPages: true })
    const params = { dateFrom: '01/11/2026', dateTo: '07/11/2026', page: '1', limit: '20', withAllOrderOrigins: 'true' }
    const page1 = JSON.parse(await (await fetch(exportUrl(sim, params))).text()) as {
      recordsTotal: number
      records: { orderNumber: string }[]
    }
    const page2 = JSON.parse(await (await fetch(exportUrl(sim, { ...params, page: '2' }))).text()) as {
      recordsTotal: number
      records: { orderNumber: string; orderDate: string }[]
    }
    expect(page2.recordsTotal).toBe(page1.recordsTotal + 1)
    expect(page2.records[0]?.orderNumber).toBe(page1.records[19]?.orderNumber)
    const inserted = sim.expectedDeals(SITE, '2026-11-01', '2026-11-01')[0]
    expect(inserted?.orderDate).toBe('01/11/2026 00:00:00')
    expect(inserted?.orderNumber).toMatch(/^SHIFT/)
    expect(sim.stats().faultsInjected.shiftedPages).toBe(2)
  })

  it('adds latency with seeded jitter', async () => {
    const sim = await startSimulator({ rateLimit: false, latencyMs: 300, latencyJitterMs: 100 })
    running.push(sim)
    const { ms } = await timedGet(`${sim.url}/calls-service/RestAPI/${SITE}/getnodeid/`)
    expect(ms).toBeGreaterThanOrEqual(300)
  })

  it('changes faults at run time through POST /_sim/faults', async () => {
    const sim = await start({})
    expect(await statuses(sim, 2)).toEqual([200, 200])
    const { status, json } = await postJson(`${sim.url}/_sim/faults`, { failureRate: 1 })
    expect(status).toBe(200)
    expect(json).toMatchObject({ failureRate: 1, truncateRate: 0 })
    expect((await statuses(sim, 2)).every((s) => s === 500 || s === 502 || s === 503)).toBe(true)
    expect((await postJson(`${sim.url}/_sim/faults`, { failureRate: 2 })).status).toBe(400)
  })
})
