import { afterEach, describe, expect, it } from 'vitest'
import { CalltouchClient } from '../../pipelines/sources/calltouch-deals/api-client.ts'
import { extractWindow, type ExtractOutcome } from '../../pipelines/sources/calltouch-deals/extract-window.ts'
import { createRequestLimiter, type RequestLimiter } from '../../pipelines/http/request-limiter.ts'
import { clearSecretsForTests, registerSecret } from '../../pipelines/core/secrets.ts'
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../simulator/index.ts'

const SITE_ID = 4242
const TOKEN = 'tok/en+with.dots=='
const WINDOW = { firstDay: '2026-11-02', lastDay: '2026-11-05' }

let sim: RunningSimulator | undefined
let limiter: RequestLimiter | undefined

async function setUp(
  options: SimulatorOptions,
  client: { timeoutMs?: number; maxRetries?: number; token?: string } = {},
): Promise<{ sim: RunningSimulator; client: CalltouchClient; limiter: RequestLimiter }> {
  sim = await startSimulator({
    rateLimit: false,
    sites: [{ siteId: SITE_ID, token: TOKEN, dealsPerDay: 400 }],
    ...options,
  })
  limiter = createRequestLimiter({ requestsPerSecond: 5 })
  registerSecret(TOKEN)
  return {
    sim,
    limiter,
    client: new CalltouchClient({
      baseUrl: sim.url,
      siteId: SITE_ID,
      token: client.token ?? TOKEN,
      limiter,
      timeoutMs: client.timeoutMs ?? 5000,
      maxRetries: client.maxRetries ?? 8,
      minRetryDelayMs: 50,
    }),
  }
}

afterEach(async () => {
  await limiter?.stop()
  await sim?.close()
  sim = undefined
  limiter = undefined
  clearSecretsForTests()
})

/** Order numbers of the window's days in the pages, as the load would keep them. */
function windowOrderNumbers(outcome: ExtractOutcome, firstDay: string, lastDay: string): string[] {
  if (outcome.kind !== 'extracted') throw new Error('expected an extracted window')
  const numbers = new Set<string>()
  for (const page of outcome.pages) {
    for (const record of (
      JSON.parse(Buffer.from(page).toString('utf8')) as { records: { orderNumber: string; orderDate: string }[] }
    ).records) {
      const [day, month, year] = record.orderDate.slice(0, 10).split('/')
      const iso = `${year}-${month}-${day}`
      if (iso >= firstDay && iso <= lastDay) numbers.add(record.orderNumber)
    }
  }
  return [...numbers].sort()
}

function expectedOrderNumbers(running: RunningSimulator, firstDay: string, lastDay: string): string[] {
  return running
    .expectedDeals(SITE_ID, firstDay, lastDay)
    .map((deal) => deal.orderNumber)
    .sort()
}

describe('reading a window of deals', () => {
  it('reads every page of a window with the token URL-encoded, pages 2..N at once', async () => {
    const { sim, client, limiter } = await setUp({})
    const outcome = await extractWindow(client, WINDOW)
    const expected = expectedOrderNumbers(sim, WINDOW.firstDay, WINDOW.lastDay)
    expect(expected.length).toBeGreaterThan(1000)
    expect(windowOrderNumbers(outcome, WINDOW.firstDay, WINDOW.lastDay)).toEqual(expected)
    const total = sim.expectedDeals(SITE_ID, '2026-11-02', '2026-11-06').length
    expect(outcome).toMatchObject({ kind: 'extracted', recordsTotal: total, reads: 1, sawDayAfter: true })
    expect(limiter.counters).toEqual({ requests: Math.ceil(total / 1000), retries: 0 })
  })

  it.each([
    ['dateTo excludes its day', { dateToInclusive: false }, false],
    ['equal dates are accepted', { acceptEqualDates: true }, true],
  ] as const)('loads the same deals when %s', async (_name, options, sawDayAfter) => {
    const { sim, client } = await setUp(options)
    const outcome = await extractWindow(client, WINDOW)
    expect(windowOrderNumbers(outcome, WINDOW.firstDay, WINDOW.lastDay)).toEqual(
      expectedOrderNumbers(sim, WINDOW.firstDay, WINDOW.lastDay),
    )
    expect(outcome.kind === 'extracted' && outcome.sawDayAfter).toBe(sawDayAfter)
  })

  it.each([0, 1] as const)('stops at an empty first page whose pageTotal is %i', async (emptyPageTotal) => {
    const { client, limiter } = await setUp({ emptyPageTotal })
    const outcome = await extractWindow(client, { firstDay: '2024-03-01', lastDay: '2024-03-09' })
    expect(outcome).toEqual({
      kind: 'extracted',
      pages: [Buffer.from(`{"page":1,"pageTotal":${emptyPageTotal},"pageSize":1000,"recordsTotal":0,"records":[]}`)],
      recordsTotal: 0,
      reads: 1,
      sawDayAfter: false,
    })
    expect(limiter.counters.requests).toBe(1)
  })

  it('ends with the same deals as without faults under 5xx, 429 bursts, cut-off bodies, resets and timeouts', async () => {
    const { sim, client, limiter } = await setUp(
      {
        faults: {
          failureRate: 0.15,
          burst429: { rate: 0.1, length: 2 },
          truncateRate: 0.15,
          resetRate: 0.1,
          slowRate: 0.1,
          slowMs: 1000,
        },
      },
      { timeoutMs: 400 },
    )
    const outcome = await extractWindow(client, WINDOW)
    expect(windowOrderNumbers(outcome, WINDOW.firstDay, WINDOW.lastDay)).toEqual(
      expectedOrderNumbers(sim, WINDOW.firstDay, WINDOW.lastDay),
    )
    const faults = sim.stats().faultsInjected
    expect(faults.serverError + faults.burst429 + faults.truncated + faults.reset + faults.slow).toBeGreaterThan(0)
    expect(limiter.counters.retries).toBe(limiter.counters.requests - 2)
  })

  it('reads a window again when a deal appears between its pages, and gives up after three torn reads', async () => {
    const { client, limiter } = await setUp({ faults: { shiftPages: true } })
    await expect(extractWindow(client, WINDOW)).rejects.toThrow(
      /^deals of site 4242 from 2026-11-02 to 2026-11-05 changed while being read, 3 reads in a row \(last: recordsTotal went from \d+ to \d+ between pages\); the next run reads the window again$/,
    )
    expect(limiter.counters.requests).toBe(6)
  })

  it("fails at once on a wrong token with the API's message and without the token", async () => {
    const { client, limiter } = await setUp({}, { token: 'wrong/token.x' })
    registerSecret('wrong/token.x')
    const failure = await extractWindow(client, WINDOW).catch((error: unknown) => error as Error)
    expect((failure as Error).message).toBe(
      'deals of site 4242 from 2026-11-02 to 2026-11-06, page 1: Calltouch answered HTTP 403: Доступ запрещён: неверный токен или идентификатор сайта — check the site id and its API token',
    )
    expect(limiter.counters).toEqual({ requests: 1, retries: 0 })
  })

  it('keeps to 5 requests in any second with the rate limit on, and gets no 429', async () => {
    const { sim, client } = await setUp({ rateLimit: {}, sites: [{ siteId: SITE_ID, token: TOKEN, dealsPerDay: 5 }] })
    const days = Array.from({ length: 16 }, (_, i) => `2026-10-${String(i + 10).padStart(2, '0')}`)
    const started = Date.now()
    await Promise.all(days.map((day) => extractWindow(client, { firstDay: day, lastDay: day })))
    const elapsedMs = Date.now() - started
    const stats = sim.stats()
    expect(stats.requests.total).toBe(16)
    expect(stats.rejected429).toBe(0)
    expect(stats.maxRequestsInAnySecond).toBeLessThanOrEqual(5)
    // 16 requests at 5 a second need a little over 3 seconds, not much more.
    expect(elapsedMs).toBeGreaterThan(3000)
    expect(elapsedMs).toBeLessThan(4500)
  })
})
