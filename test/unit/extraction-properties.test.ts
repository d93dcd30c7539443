/**
 * Termination and the request bound of extraction, over thousands of random day
 * layouts: a backfill read by the real sync-sites, window planner, extractor
 * and API client, against an export over the layout (test/helpers/layout-api.ts).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addDays, type Day } from '../../pipelines/core/day.ts'
import {
  syncSites,
  type SyncSitesConfig,
  type SyncSummary,
  type WindowLoader,
} from '../../pipelines/sources/calltouch-deals/sync-sites.ts'
import { silentLogger } from '../../pipelines/core/logger.ts'
import { DEFAULT_RUN_SETTINGS } from '../../pipelines/sources/calltouch-deals/config.ts'
import { WindowPlanner, type WindowPlanning } from '../../pipelines/sources/calltouch-deals/window-planner.ts'
import { RUNAWAY_CUTS_BASE, RUNAWAY_CUTS_PER_DAY } from '../../pipelines/sources/calltouch-deals/window-scheduler.ts'
import type { WarehouseDb } from '../../pipelines/warehouse/connection.ts'
import {
  countingLimiter,
  countingLoader,
  createLayoutApi,
  type LayoutApi,
  type LayoutChange,
} from '../helpers/layout-api.ts'

const FIRST_DAY = '2026-09-01'
/** Runs of the main property; `EXTRACTION_PROPERTY_RUNS` raises it for a long local search. */
const RUNS = Number(process.env.EXTRACTION_PROPERTY_RUNS ?? 2000)
/**
 * The same layouts on every run, so CI is reproducible; `EXTRACTION_PROPERTY_SEED=random` (or
 * another number) searches new ones — 10,000 random layouts passed on 2026-12-07. A failing
 * layout found that way goes into FOUND_BEFORE.
 */
const SEED =
  process.env.EXTRACTION_PROPERTY_SEED === 'random' ? undefined : Number(process.env.EXTRACTION_PROPERTY_SEED ?? 14)

/** Stretches of days as real sites have them. */
const stretch = fc.oneof(
  fc.integer({ min: 1, max: 20 }).map((days) => Array<number>(days).fill(0)),
  fc
    .tuple(fc.integer({ min: 1, max: 15 }), fc.integer({ min: 1, max: 3000 }))
    .map(([days, deals]) => Array<number>(days).fill(deals)),
  fc
    .tuple(fc.integer({ min: 2, max: 15 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 4000 }))
    .map(([days, from, to]) =>
      Array.from({ length: days }, (_, i) => Math.round(from + ((to - from) * i) / (days - 1))),
    ),
  fc.integer({ min: 5_000, max: 50_000 }).map((deals) => [deals]),
  fc.array(fc.integer({ min: 0, max: 2500 }), { minLength: 1, maxLength: 10 }),
)

interface Scenario {
  readonly counts: readonly number[]
  /** Days of the layout the backfill reads: [from, to] as offsets. */
  readonly from: number
  readonly to: number
  readonly dateToInclusive: boolean
  readonly emptyPageTotal: 0 | 1
  /** What the ledger believes of each day before the run: nothing, the truth, or counts of another layout. */
  readonly ledger: 'none' | 'true' | readonly number[]
  readonly change: LayoutChange | undefined
}

const scenario: fc.Arbitrary<Scenario> = fc
  .array(stretch, { minLength: 1, maxLength: 5 })
  .map((stretches) => stretches.flat().slice(0, 62))
  .chain((counts) =>
    fc.record({
      counts: fc.constant(counts),
      from: fc.integer({ min: 0, max: counts.length - 1 }),
      to: fc.integer({ min: 0, max: counts.length - 1 }),
      dateToInclusive: fc.boolean(),
      emptyPageTotal: fc.constantFrom(0 as const, 1 as const),
      ledger: fc.oneof(
        fc.constant('none' as const),
        fc.constant('true' as const),
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: counts.length, maxLength: counts.length }),
      ),
      change: fc.option(
        fc.record({ afterRequests: fc.integer({ min: 1, max: 40 }), addDeals: fc.integer({ min: 1, max: 12_000 }) }),
        { nil: undefined },
      ),
    }),
  )
  .map((s) => ({ ...s, from: Math.min(s.from, s.to), to: Math.max(s.from, s.to) }))

/** Layouts a run of this property once failed on, kept so that they are tried every time. */
const FOUND_BEFORE: readonly Scenario[] = [
  // A 28,840-deal day first among days a stale ledger put at zero, dateTo exclusive: windows cut aiming at half of the cut one's count took a cut a day.
  {
    counts: [15_166, 1281, 1281, 1281, 1281, 28_840, 0, 0, 0, 0, 0, 0, 0, 0],
    from: 5,
    to: 9,
    dateToInclusive: false,
    emptyPageTotal: 0,
    ledger: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
    change: undefined,
  },
  // Windows of 15,000 cut from one found too big took three cuts to corner a 20,001-deal day behind a stale ledger of zeros.
  {
    counts: [1, 1, 1, 20_001, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5000],
    from: 0,
    to: 5,
    dateToInclusive: false,
    emptyPageTotal: 0,
    ledger: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    change: undefined,
  },
  // A stale ledger of zeros put a whole cut window's count on the one day it believed busy.
  {
    counts: [...Array<number>(14).fill(1428), 49_864, 16_581, 242, 481, 720],
    from: 0,
    to: 15,
    dateToInclusive: true,
    emptyPageTotal: 0,
    ledger: [0, 0, 0, 0, 0, 501, 8, 919, 656, 10, 589, 2318, 0, 0, 0, 1, 0, 0, 0],
    change: undefined,
  },
  // Deals created while a window paged tore it; the cut around it left a lone day that read its day after for nothing.
  {
    counts: [...Array<number>(7).fill(3000), ...Array<number>(7).fill(2775), 8873],
    from: 0,
    to: 13,
    dateToInclusive: true,
    emptyPageTotal: 0,
    ledger: [0, 2258, 2743, 781, 1210, 11, 10, 0, 899, 861, 400, 829, 0, 0, 0],
    change: { afterRequests: 9, addDeals: 6451 },
  },
]

interface Outcome {
  readonly summary: SyncSummary
  readonly requests: number
  /** Deals of the days read, as the layout holds them at the end. */
  readonly deals: number
  /** Days whose deals the loader holds differ from the layout's, as `day: loaded/expected`. */
  readonly wrongDays: readonly string[]
  readonly tornReadPages: number
  readonly loadedWindows: readonly string[]
  /** Deals of the day after the last day read, which an inclusive dateTo makes a lone last day read too. */
  readonly dealsOfDayAfter: number
}

/** sync-sites over the layout, sending at once: one site unless `sites` says otherwise. */
function syncOverLayout(
  api: LayoutApi,
  loader: WindowLoader,
  config: Pick<SyncSitesConfig, 'mode' | 'readLedger'> & Partial<Pick<SyncSitesConfig, 'sites' | 'createPlanner'>>,
): Promise<SyncSummary> {
  return syncSites({
    db: undefined as unknown as WarehouseDb,
    runId: '1',
    sites: [{ siteId: 1, token: 'property-token', timeZone: 'Europe/Moscow', startDate: FIRST_DAY }],
    baseUrl: 'http://layout.invalid',
    settings: { ...DEFAULT_RUN_SETTINGS, maxRetries: 0 },
    limiter: countingLimiter(),
    loader,
    now: new Date('2026-12-01T00:00:00Z'),
    logger: silentLogger(),
    fetch: api.fetch,
    ...config,
  })
}

async function backfill(s: Scenario): Promise<Outcome> {
  const day = (offset: number): Day => addDays(FIRST_DAY, offset)
  const dealsOfDays = (api: { dealsOn(day: Day): number }): number =>
    s.counts.slice(s.from, s.to + 1).reduce((sum, _, i) => sum + api.dealsOn(day(s.from + i)), 0)
  const api = createLayoutApi({
    firstDay: FIRST_DAY,
    counts: s.counts,
    dateToInclusive: s.dateToInclusive,
    emptyPageTotal: s.emptyPageTotal,
    change: s.change,
    maxRequests: 10 * (Math.ceil(s.counts.reduce((a, b) => a + b, 0) / 1000) + s.counts.length + 20),
  })
  const loader = countingLoader()
  const ledgerCounts = s.ledger === 'none' ? [] : s.ledger === 'true' ? s.counts : s.ledger
  const summary = await syncOverLayout(api, loader, {
    mode: { kind: 'backfill', from: day(s.from), to: day(s.to) },
    readLedger: async () =>
      ledgerCounts.map((records, i) => ({
        day: day(i),
        records,
        status: 'ok' as const,
        lastSucceededAt: new Date('2026-11-01T00:00:00Z'),
      })),
  })
  const wrongDays: string[] = []
  for (let offset = s.from; offset <= s.to; offset++) {
    const loaded = loader.dealsByDay.get(day(offset))?.size
    if (loaded !== api.dealsOn(day(offset))) wrongDays.push(`${day(offset)}: ${loaded}/${api.dealsOn(day(offset))}`)
  }
  return {
    summary,
    requests: api.requests,
    deals: dealsOfDays(api),
    wrongDays,
    tornReadPages: api.tornReadPages,
    loadedWindows: loader.windows,
    dealsOfDayAfter: s.dateToInclusive ? api.dealsOn(day(s.to + 1)) : 0,
  }
}

/**
 * The bound of the issue: at most 1.1 × ⌈deals / 1000⌉ + one request per window. Two things
 * no extractor can avoid are added: a read torn by deals created while it paged is read
 * again (its pages), and when dateTo includes its day, a lone last day is asked as two
 * days (the vendor refuses equal dates), so the day after it comes along.
 */
function requestBound(outcome: Outcome): number {
  return (
    1.1 * Math.ceil((outcome.deals + outcome.dealsOfDayAfter) / 1000) + outcome.summary.windows + outcome.tornReadPages
  )
}

describe('extraction over random day layouts', () => {
  it(`ends, reads every deal, and stays within 1.1 × ⌈deals/1000⌉ + one request per window (${RUNS} layouts)`, async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const outcome = await backfill(s)
        expect(outcome.summary.failures).toEqual([])
        expect(outcome.wrongDays).toEqual([])
        expect(outcome.requests).toBeLessThanOrEqual(requestBound(outcome))
      }),
      { numRuns: RUNS, examples: FOUND_BEFORE.map((found) => [found]), ...(SEED === undefined ? {} : { seed: SEED }) },
    )
  }, 600_000)

  it.each([
    // The layout of the issue: 18,400 deals asked in one window after the probe, read whole.
    { perDay: 800, requests: 17, windows: 2 },
    // Too many for one window: cut once, then windows of ~5,000 deals among the cut window's days.
    { perDay: 1500, requests: 32, windows: 7 },
  ])(
    'reads 10 empty days followed by $perDay deals a day in $requests requests',
    async ({ perDay, requests, windows }) => {
      const outcome = await backfill({
        counts: [...Array<number>(10).fill(0), ...Array<number>(20).fill(perDay)],
        from: 0,
        to: 29,
        dateToInclusive: true,
        emptyPageTotal: 0,
        ledger: 'none',
        change: undefined,
      })
      expect(outcome.wrongDays).toEqual([])
      expect({ requests: outcome.requests, windows: outcome.summary.windows }).toEqual({ requests, windows })
    },
  )

  it('reads one 25,000-deal day among small ones (asked until the run was stopped before) as a window of its own', async () => {
    const counts = Array.from({ length: 30 }, (_, i) => (i === 17 ? 25_000 : 40))
    const outcome = await backfill({
      counts,
      from: 0,
      to: 29,
      dateToInclusive: false,
      emptyPageTotal: 1,
      ledger: 'none',
      change: undefined,
    })
    expect(outcome.wrongDays).toEqual([])
    // Two windows cut (the busy stretch, then the days around the big day), 26 pages at least, one request for each small window.
    expect(outcome.loadedWindows).toContain('2026-09-18..2026-09-18')
    expect({ requests: outcome.requests, windows: outcome.summary.windows }).toEqual({ requests: 38, windows: 12 })
  })
})

describe('the runaway guard', () => {
  /** A planner with the defect of issue 14: after a cut it hands out the very same window again. */
  function repeatingPlanner(days: readonly Day[]): WindowPlanning {
    let handedOut = false
    return {
      get remainingDays() {
        return handedOut ? 0 : days.length
      },
      remainingRecords: () => undefined,
      nextIsProbe: false,
      next() {
        if (handedOut) return undefined
        handedOut = true
        return { firstDay: days[0] as Day, lastDay: days.at(-1) as Day }
      },
      observe: (_window, recordsTotal) => {
        if (recordsTotal <= 20_000) return 'continue'
        handedOut = false
        return 'too-big'
      },
      learn: () => {},
      learnDateToInclusive: () => {},
      takeDayAfter: (window) => window,
    }
  }

  it('stops a site whose windows are cut more often than its days can need, with a clear error, and lets the others load', async () => {
    const counts = [10_000, 15_000, 0, 3, 4]
    const api = createLayoutApi({
      firstDay: FIRST_DAY,
      counts,
      dateToInclusive: true,
      emptyPageTotal: 0,
      maxRequests: 1000,
    })
    const loader = countingLoader()
    const summary = await syncOverLayout(api, loader, {
      sites: [
        { siteId: 1, token: 'runaway-token', timeZone: 'Europe/Moscow', startDate: FIRST_DAY },
        { siteId: 2, token: 'fine-token', timeZone: 'Europe/Moscow', startDate: FIRST_DAY },
      ],
      mode: { kind: 'backfill', from: '2026-09-01', to: '2026-09-02' },
      readLedger: async () => [],
      // Site 1 gets the defective planner; site 2 the real one, over the same layout.
      createPlanner: (siteId, days, ledger) =>
        siteId === 1 ? repeatingPlanner(days) : new WindowPlanner(days, ledger),
    })
    const allowed = RUNAWAY_CUTS_BASE + RUNAWAY_CUTS_PER_DAY * 2
    expect(allowed).toBe(14)
    expect(
      summary.failures.map(({ siteId, firstDay, lastDay, error }) => ({ siteId, firstDay, lastDay, error })),
    ).toEqual([
      {
        siteId: 1,
        firstDay: '2026-09-01',
        lastDay: '2026-09-02',
        error:
          'not asked for: site 1 was stopped after 15 requests on windows it then cut smaller, more than its 2 planned day(s) can need (14) — please report this with the log (--log-level debug)',
      },
    ])
    // Site 2's 25,000 deals (asked as one window, cut, then a day at a time) all loaded.
    expect([loader.dealsByDay.get('2026-09-01')?.size, loader.dealsByDay.get('2026-09-02')?.size]).toEqual([
      10_000, 15_000,
    ])
    expect(summary.daysFailed).toBe(2)
  })
})
