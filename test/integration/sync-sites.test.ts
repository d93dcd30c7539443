import { sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { eachDay } from '../../pipelines/core/day.ts'
import { loadWindow, recordWindowFailure } from '../../pipelines/sources/calltouch-deals/load-window.ts'
import { createRequestLimiter } from '../../pipelines/http/request-limiter.ts'
import {
  syncSites,
  type SyncSitesConfig,
  type SyncSummary,
  type WindowLoader,
} from '../../pipelines/sources/calltouch-deals/sync-sites.ts'
import { silentLogger } from '../../pipelines/core/logger.ts'
import { DEFAULT_RUN_SETTINGS } from '../../pipelines/sources/calltouch-deals/config.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { WindowPlanner } from '../../pipelines/sources/calltouch-deals/window-planner.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE_ID = 5151
const TOKEN = 'dense/site+token.x'
const FIRST_DAY = '2026-11-20'
const LAST_DAY = '2026-11-25'
/** Above the planner's aim here (5,000 a window): each day alone would be a one-day window. */
const DEALS_PER_DAY = 6000
const PAGE_BUDGET = 30
const LOAD_TEST_TIMEOUT_MS = 180_000

/** A backfill of `sites` from `from` to `to` through syncSites, at the vendor's 5 requests a second. */
async function backfill(
  tw: TestWarehouse,
  sim: RunningSimulator,
  sites: readonly { siteId: number; token: string }[],
  from: string,
  to: string,
  loader: WindowLoader,
  options: Pick<SyncSitesConfig, 'loadConcurrency' | 'pageBudget' | 'createPlanner'> = {},
): Promise<SyncSummary> {
  const limiter = createRequestLimiter({ requestsPerSecond: 5 })
  try {
    return await syncSites({
      db: tw.warehouse.db,
      runId: await startRun(tw.warehouse.db, 'backfill'),
      sites: sites.map(({ siteId, token }) => ({ siteId, token, timeZone: 'Europe/Moscow', startDate: from })),
      mode: { kind: 'backfill', from, to },
      baseUrl: sim.url,
      settings: DEFAULT_RUN_SETTINGS,
      limiter,
      loader,
      now: new Date('2026-11-29T09:00:00Z'),
      logger: silentLogger(),
      ...options,
    })
  } finally {
    await limiter.stop()
  }
}

describePostgres('syncing a site whose days are too dense to share a window', () => {
  let tw: TestWarehouse
  let sim: RunningSimulator
  let summary: SyncSummary
  const windows: string[] = []
  let mostLoadingAtOnce = 0

  beforeAll(async () => {
    tw = await createTestWarehouse('postgres')
    sim = await startSimulator({
      seed: 5,
      rateLimit: false,
      sites: [{ siteId: SITE_ID, token: TOKEN, dealsPerDay: DEALS_PER_DAY }],
    })
    let loading = 0
    // The first window's load waits for a second window to start loading: with one lane it never would.
    let secondLoadStarted: () => void = () => {}
    const secondLoad = new Promise<void>((resolve) => {
      secondLoadStarted = resolve
    })
    const loader: WindowLoader = {
      async loadWindow(db, window) {
        windows.push(`${window.firstDay}..${window.lastDay}`)
        loading += 1
        mostLoadingAtOnce = Math.max(mostLoadingAtOnce, loading)
        try {
          if (windows.length === 1) await secondLoad
          else secondLoadStarted()
          return await loadWindow(db, window)
        } finally {
          loading -= 1
        }
      },
      recordWindowFailure,
    }
    summary = await backfill(tw, sim, [{ siteId: SITE_ID, token: TOKEN }], FIRST_DAY, LAST_DAY, loader, {
      loadConcurrency: 2,
      pageBudget: PAGE_BUDGET,
      createPlanner: (_siteId, planned, ledger) => new WindowPlanner(planned, ledger, { targetRecords: 5_000 }),
    })
  }, LOAD_TEST_TIMEOUT_MS)
  afterAll(async () => {
    await sim?.close()
    await tw?.destroy()
  })

  const pagesOf = (first: string, last: string): number =>
    Math.ceil(sim.expectedDeals(SITE_ID, first, last).length / 1000)

  it('reads the day after a one-day window to learn that dateTo includes its day, keeps that day, then reads two days a window and nothing twice', () => {
    expect(summary.failures).toEqual([])
    expect(windows.sort()).toEqual(['2026-11-20..2026-11-21', '2026-11-22..2026-11-23', '2026-11-24..2026-11-25'])
    // The probe's first page (too big to read whole), then each window's pages: the first, asked as
    // [20, 21], held all of 21 once dateTo turned out to include it, so 21 is not read again.
    const requests =
      1 +
      pagesOf('2026-11-20', '2026-11-21') +
      pagesOf('2026-11-22', '2026-11-23') +
      pagesOf('2026-11-24', '2026-11-25')
    expect({ requests: summary.requests, exportRequests: sim.stats().requests.byEndpoint.export }).toEqual({
      requests,
      exportRequests: requests,
    })
  })

  it(
    'loads every deal of the days, two windows at a time, never holding more pages than the budget allows',
    async () => {
      const expected = sim
        .expectedDeals(SITE_ID, FIRST_DAY, LAST_DAY)
        .map((deal) => deal.orderNumber)
        .sort()
      const { rows } = await sql<{
        order_number: string
      }>`select order_number from calltouch.orders where site_id = ${SITE_ID} order by order_number`.execute(
        tw.warehouse.db,
      )
      expect(rows.map((row) => row.order_number)).toEqual(expected)
      expect({ seen: summary.seen, changed: summary.changed, windows: summary.windows }).toEqual({
        seen: expected.length,
        changed: expected.length,
        windows: 3,
      })
      const days = await tw.warehouse.db
        .selectFrom('etl.ledger')
        .select(['day', 'status'])
        .where('source', '=', 'calltouch-deals')
        .where('account', '=', String(SITE_ID))
        .orderBy('day')
        .execute()
      expect(days).toEqual(eachDay(FIRST_DAY, LAST_DAY).map((day) => ({ day, status: 'ok' })))
      expect(mostLoadingAtOnce).toBe(2)
      // Two windows of ~12 pages loading fill most of the budget: the next window's later pages wait for one of them.
      expect(summary.peakPagesHeld).toBeLessThanOrEqual(PAGE_BUDGET)
    },
    LOAD_TEST_TIMEOUT_MS,
  )
})

describePostgres('syncing a dense site beside a small one', () => {
  const SMALL = { siteId: 6161, token: 'small/site+token.x', dealsPerDay: 30 }
  const DENSE = { siteId: 6262, token: 'dense/site+token.y', dealsPerDay: 1500 }
  const FROM = '2026-11-01'
  const TO = '2026-11-20'
  let tw: TestWarehouse
  let sim: RunningSimulator
  let summary: SyncSummary
  const windows = new Map<number, string[]>()

  beforeAll(async () => {
    tw = await createTestWarehouse('postgres')
    sim = await startSimulator({ seed: 6, rateLimit: false, sites: [SMALL, DENSE] })
    const loader: WindowLoader = {
      loadWindow(db, window) {
        windows.set(window.siteId, [...(windows.get(window.siteId) ?? []), `${window.firstDay}..${window.lastDay}`])
        return loadWindow(db, window)
      },
      recordWindowFailure,
    }
    summary = await backfill(tw, sim, [SMALL, DENSE], FROM, TO, loader)
  }, LOAD_TEST_TIMEOUT_MS)
  afterAll(async () => {
    await sim?.close()
    await tw?.destroy()
  })

  it("keeps its probe's day after as soon as the small site's probe proves dateTo includes its day, so no page is read twice", () => {
    expect(summary.failures).toEqual([])
    // The dense probe, asked as [1, 8] before dateTo was known, holds day 8 whole: the dense site's
    // next window, handed out on the probe's first page while its later pages were still coming, starts on day 9.
    const dense = (windows.get(DENSE.siteId) ?? []).sort()
    expect(dense[0]).toBe('2026-11-01..2026-11-08')
    const small = (windows.get(SMALL.siteId) ?? []).sort()
    expect(small[0]).toBe('2026-11-01..2026-11-08')
    const covered = [...dense, ...small].flatMap((window) => eachDay(...(window.split('..') as [string, string])))
    expect(covered.sort()).toEqual([...eachDay(FROM, TO), ...eachDay(FROM, TO)].sort())
    // Each window asked exactly its own days, so the requests are the pages of the windows and nothing else.
    const pages = (siteId: number, window: string): number => {
      const [first, last] = window.split('..') as [string, string]
      return Math.max(1, Math.ceil(sim.expectedDeals(siteId, first, last).length / 1000))
    }
    const requests =
      dense.reduce((sum, window) => sum + pages(DENSE.siteId, window), 0) +
      small.reduce((sum, window) => sum + pages(SMALL.siteId, window), 0)
    expect({ requests: summary.requests, exportRequests: sim.stats().requests.byEndpoint.export }).toEqual({
      requests,
      exportRequests: requests,
    })
    expect(summary.seen).toBe(
      sim.expectedDeals(DENSE.siteId, FROM, TO).length + sim.expectedDeals(SMALL.siteId, FROM, TO).length,
    )
  })
})
