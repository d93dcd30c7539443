import { afterEach, expect, it } from 'vitest'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { exportUrl, SITE, TOKEN, timedGet } from './http-helpers.ts'

let sim: RunningSimulator | undefined
afterEach(async () => {
  await sim?.close()
  sim = undefined
})

/**
 * The simulator stamps a request's arrival when its event loop reaches it, and counts the
 * client's 5 a second by those stamps. A window of busy days is slow to build the first time
 * (~30 ms a day of 2,500 deals, more for 3,000 calls); built in one go, a 10-day window held the
 * loop for all of it, and a request arriving meanwhile was stamped that late (6 in one second by
 * the simulator's count for 5 sent). The simulator runs in this process, so a ticker here sees its
 * loop: the longest stall while a window is answered must be a fraction of the whole answer.
 */
async function longestStall(request: () => Promise<{ status: number; text: string }>): Promise<{
  status: number
  text: string
  stallShare: number
}> {
  let last = performance.now()
  let longest = 0
  const ticker = setInterval(() => {
    const now = performance.now()
    longest = Math.max(longest, now - last)
    last = now
  }, 2)
  const started = performance.now()
  try {
    const answer = await request()
    return { ...answer, stallShare: longest / (performance.now() - started) }
  } finally {
    clearInterval(ticker)
  }
}

it('builds a big deals window a day at a time, never holding its event loop for the whole window', async () => {
  sim = await startSimulator({ seed: 3, rateLimit: false, sites: [{ siteId: SITE, token: TOKEN, dealsPerDay: 2500 }] })
  const s = sim
  // The first request ever compiles the generator (a one-off ~200 ms): made before, on other days.
  await timedGet(exportUrl(s, { dateFrom: '01/09/2026', dateTo: '01/09/2026', page: '1', limit: '1000' }))
  const answer = await longestStall(() =>
    timedGet(exportUrl(s, { dateFrom: '01/10/2026', dateTo: '10/10/2026', page: '1', limit: '1000' })),
  )
  expect(answer.status).toBe(200)
  expect(JSON.parse(answer.text)).toMatchObject({ page: 1, pageSize: 1000 })
  // Built in one go, the longest stall was 0.88-0.99 of the answer; a day a turn, 0.41-0.55 here
  // (its first turn is the longest, ~200 ms, then ~20-60 ms a day).
  expect(answer.stallShare).toBeLessThan(0.7)
})

it('generates a big calls window a day at a time, never holding its event loop for the whole window', async () => {
  sim = await startSimulator({
    seed: 3,
    rateLimit: false,
    sites: [{ siteId: SITE, token: TOKEN, dealsPerDay: 10, callsPerDay: 3000, requestsPerDay: 10 }],
  })
  const s = sim
  const query = new URLSearchParams({
    clientApiId: TOKEN,
    dateFrom: '01/10/2026',
    dateTo: '10/10/2026',
    page: '1',
    limit: '1000',
  })
  const callsUrl = (params: URLSearchParams): string =>
    `${s.url}/calls-service/RestAPI/${SITE}/calls-diary/calls?${params.toString()}`
  await timedGet(callsUrl(new URLSearchParams({ clientApiId: TOKEN, dateFrom: '01/09/2026', dateTo: '01/09/2026' })))
  const answer = await longestStall(() => timedGet(callsUrl(query)))
  expect(answer.status).toBe(200)
  expect(JSON.parse(answer.text)).toMatchObject({ page: 1, pageSize: 1000 })
  // Generated in one go, 0.99 of the answer; a day a turn, 0.21-0.28 here.
  expect(answer.stallShare).toBeLessThan(0.7)
})
