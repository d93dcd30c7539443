import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addDays as addDaysTo, eachDay } from '../../pipelines/core/day.ts'
import { requestRange } from '../../pipelines/sources/calltouch-deals/extract-window.ts'
import {
  CUT_TARGET_WINDOW_RECORDS,
  DEFAULT_MAX_WINDOW_RECORDS,
  DEFAULT_TARGET_WINDOW_RECORDS,
  planDays,
  PROBE_WINDOW_DAYS,
  TAIL_WINDOW_RECORDS,
  WindowPlanner,
} from '../../pipelines/sources/calltouch-deals/window-planner.ts'
import type { LedgerDay } from '../../pipelines/warehouse/ledger.ts'
import { DateToProtocol } from '../../pipelines/sources/calltouch-deals/date-to-protocol.ts'
import { WindowScheduler, type SiteRun } from '../../pipelines/sources/calltouch-deals/window-scheduler.ts'
import type { CalltouchClient } from '../../pipelines/sources/calltouch-deals/api-client.ts'

const NOW = new Date('2026-11-29T09:00:00Z')
const SETTINGS = { lookbackDays: 30, refreshMaxAgeDays: 180, refreshAfterDays: 7 }
const ok = (day: string, records: number, readAt = NOW): LedgerDay => ({
  day,
  records,
  status: 'ok',
  lastSucceededAt: readAt,
})

/** The aim these cases were written for: small numbers of deals keep their layouts short. */
const AIM_5000 = { targetRecords: 5_000 }

function drain(planner: WindowPlanner): string[] {
  const windows: string[] = []
  for (let window = planner.next(); window; window = planner.next())
    windows.push(`${window.firstDay}..${window.lastDay}`)
  return windows
}

describe('planning the days of a sync', () => {
  it('reads every day from the start date to today when the ledger is empty', () => {
    expect(
      planDays([], { kind: 'sync', today: '2026-11-29', startDate: '2026-11-20', now: NOW, settings: SETTINGS }),
    ).toEqual(eachDay('2026-11-20', '2026-11-29'))
  })

  it('re-reads only the look-back window once every day was read today', () => {
    const ledger = eachDay('2026-08-01', '2026-11-29').map((day) => ok(day, 10))
    const days = planDays(ledger, {
      kind: 'sync',
      today: '2026-11-29',
      startDate: '2026-08-01',
      now: NOW,
      settings: SETTINGS,
    })
    expect(days).toEqual(eachDay('2026-10-31', '2026-11-29'))
  })

  it('adds older days last read more than a week ago, up to 180 days old, and days that failed', () => {
    const longAgo = new Date('2026-11-10T00:00:00Z')
    const ledger: LedgerDay[] = [
      ok('2026-05-01', 5, longAgo), // older than 180 days: left alone
      ok('2026-06-10', 5, longAgo), // stale and within 180 days
      ok('2026-06-11', 5, new Date('2026-11-25T00:00:00Z')), // read 4 days ago
      { day: '2026-06-12', records: null, status: 'failed', lastSucceededAt: null },
      { day: '2025-12-31', records: 3, status: 'failed', lastSucceededAt: longAgo }, // before the start date, failed
      ...eachDay('2026-06-13', '2026-11-29').map((day) => ok(day, 1)),
    ]
    const days = planDays(ledger, {
      kind: 'sync',
      today: '2026-11-29',
      startDate: '2026-05-01',
      now: NOW,
      settings: SETTINGS,
    })
    expect(days).toEqual([
      '2025-12-31',
      ...eachDay('2026-05-02', '2026-06-09'),
      '2026-06-10',
      '2026-06-12',
      ...eachDay('2026-10-31', '2026-11-29'),
    ])
  })

  it('reads exactly the backfill range, whatever the ledger says', () => {
    expect(planDays([ok('2026-11-02', 4)], { kind: 'backfill', from: '2026-11-01', to: '2026-11-03' })).toEqual([
      '2026-11-01',
      '2026-11-02',
      '2026-11-03',
    ])
  })
})

describe('cutting planned days into windows', () => {
  it('packs known days up to the aim of a window and never across a gap', () => {
    const days = [...eachDay('2026-11-01', '2026-11-10'), ...eachDay('2026-11-20', '2026-11-21')]
    const ledger = days.map((day) => ok(day, 1200))
    expect(drain(new WindowPlanner(days, ledger, AIM_5000))).toEqual([
      '2026-11-01..2026-11-04',
      '2026-11-05..2026-11-08',
      '2026-11-09..2026-11-10',
      '2026-11-20..2026-11-21',
    ])
  })

  it('starts a window at a day bigger than a window while dateTo may exclude its day, and takes the last day of the run along rather than leave it alone', () => {
    const days = eachDay('2026-11-01', '2026-11-03')
    expect(
      drain(
        new WindowPlanner(days, [ok('2026-11-01', 100), ok('2026-11-02', 12_000), ok('2026-11-03', 100)], AIM_5000),
      ),
    ).toEqual(['2026-11-01..2026-11-01', '2026-11-02..2026-11-03'])
  })

  it('gives a day bigger than a window a second day once dateTo is known to include its day, since one day is asked as two anyway', () => {
    const days = eachDay('2026-11-01', '2026-11-04')
    const planner = new WindowPlanner(
      days,
      [ok('2026-11-01', 100), ok('2026-11-02', 12_000), ok('2026-11-03', 100), ok('2026-11-04', 9_000)],
      AIM_5000,
    )
    planner.learnDateToInclusive()
    expect(drain(planner)).toEqual(['2026-11-01..2026-11-02', '2026-11-03..2026-11-04'])
  })

  it('puts dense days two to a window once dateTo is known to include its day, the last day of a run of days alone', () => {
    const days = [...eachDay('2026-11-01', '2026-11-05'), ...eachDay('2026-11-10', '2026-11-11')]
    const ledger = days.map((day) => ok(day, 11_000))
    const planner = new WindowPlanner(days, ledger)
    expect(planner.next()).toEqual({ firstDay: '2026-11-01', lastDay: '2026-11-01' })
    planner.learnDateToInclusive()
    expect(drain(planner)).toEqual(['2026-11-02..2026-11-03', '2026-11-04..2026-11-05', '2026-11-10..2026-11-11'])
    // A two-day window is read whole however many deals its first page reports: it is the smallest window.
    expect(
      planner.observe({ firstDay: '2026-11-02', lastDay: '2026-11-03' }, 22_000, {
        dateFrom: '2026-11-02',
        dateTo: '2026-11-03',
      }),
    ).toBe('continue')
    expect(planner.remainingDays).toBe(0)
  })

  it('still cuts a window of three dense days smaller once dateTo is known to include its day', () => {
    const planner = new WindowPlanner(eachDay('2026-11-01', '2026-11-06'), [])
    planner.learnDateToInclusive()
    const probe = planner.next()!
    expect(probe).toEqual({ firstDay: '2026-11-01', lastDay: '2026-11-06' })
    expect(planner.observe(probe, 66_000, { dateFrom: '2026-11-01', dateTo: '2026-11-06' })).toBe('too-big')
    expect(drain(planner)).toEqual(['2026-11-01..2026-11-02', '2026-11-03..2026-11-04', '2026-11-05..2026-11-06'])
  })

  it('estimates unknown days from their known neighbours', () => {
    const known = eachDay('2026-11-01', '2026-11-07').map((day) => ok(day, 1000))
    const days = eachDay('2026-11-08', '2026-11-20')
    expect(drain(new WindowPlanner(days, known, AIM_5000))).toEqual([
      '2026-11-08..2026-11-12',
      '2026-11-13..2026-11-17',
      '2026-11-18..2026-11-20',
    ])
  })

  it('probes a site nothing is known about, then cuts by the density its first page told', () => {
    const planner = new WindowPlanner(eachDay('2026-09-01', '2026-10-30'), [], AIM_5000)
    expect(planner.nextIsProbe).toBe(true)
    const probe = planner.next()
    expect(probe).toEqual({ firstDay: '2026-09-01', lastDay: '2026-09-07' })
    expect(PROBE_WINDOW_DAYS).toBe(7)
    // 8 days asked for (the day after the window too), 3,000 deals a day: too big to read whole.
    expect(planner.observe(probe!, 24_000, { dateFrom: '2026-09-01', dateTo: '2026-09-08' })).toBe('too-big')
    expect(planner.nextIsProbe).toBe(false)
    // Its 24,000 deals are shared out over the 8 days asked for: 3,000 each, so one day a window.
    expect(planner.next()).toEqual({ firstDay: '2026-09-01', lastDay: '2026-09-01' })
    expect(planner.remainingDays).toBe(59)
  })

  it('cuts a window found too big by what its first page said, never handing it out again (quiet days before busy ones)', () => {
    // Ten quiet days are known; the 20 busy days after them are estimated from them as empty.
    const planner = new WindowPlanner(
      eachDay('2026-11-11', '2026-11-30'),
      eachDay('2026-11-01', '2026-11-10').map((day) => ok(day, 0)),
      AIM_5000,
    )
    const quietLooking = planner.next()!
    expect(quietLooking).toEqual({ firstDay: '2026-11-11', lastDay: '2026-11-30' })
    expect(planner.observe(quietLooking, 24_000, { dateFrom: '2026-11-11', dateTo: '2026-12-01' })).toBe('too-big')
    // 24,000 deals over 21 days asked for: ~1,143 a day, four days to a window.
    expect(drain(planner)).toEqual([
      '2026-11-11..2026-11-14',
      '2026-11-15..2026-11-18',
      '2026-11-19..2026-11-22',
      '2026-11-23..2026-11-26',
      '2026-11-27..2026-11-30',
    ])
  })

  it('aims windows among the days of one found too big at 5,000 deals, whatever the aim of the others', () => {
    const planner = new WindowPlanner(
      eachDay('2026-11-11', '2026-11-30'),
      eachDay('2026-11-01', '2026-11-10').map((day) => ok(day, 0)),
    )
    const quietLooking = planner.next()!
    expect(planner.observe(quietLooking, 24_000, { dateFrom: '2026-11-11', dateTo: '2026-12-01' })).toBe('too-big')
    // ~1,143 a day: four days to a window, as at an aim of 5,000, where the aim of 15,000 would take thirteen.
    expect(CUT_TARGET_WINDOW_RECORDS).toBe(5000)
    expect(planner.next()).toEqual({ firstDay: '2026-11-11', lastDay: '2026-11-14' })
    planner.learn(Object.fromEntries(eachDay('2026-11-11', '2026-11-14').map((day) => [day, 1143])))
    expect(planner.next()).toEqual({ firstDay: '2026-11-15', lastDay: '2026-11-18' })
  })

  it('believes a cut window over a stale ledger, and reads the day that grew alone', () => {
    const days = eachDay('2026-11-01', '2026-11-10')
    const planner = new WindowPlanner(
      days,
      days.map((day) => ok(day, 100)),
      AIM_5000,
    )
    const stale = planner.next()!
    expect(stale).toEqual({ firstDay: '2026-11-01', lastDay: '2026-11-10' })
    // The ledger said 100 a day; the first page says 25,900: a day grew, nobody knows which yet.
    expect(planner.observe(stale, 25_900, { dateFrom: '2026-11-01', dateTo: '2026-11-11' })).toBe('too-big')
    const first = planner.next()!
    expect(first).toEqual({ firstDay: '2026-11-01', lastDay: '2026-11-02' })
    planner.learn({ '2026-11-01': 100, '2026-11-02': 100 })
    // Once read, the rest of what the first page said falls on the days not read yet.
    // 25,700 over the 9 days left of the 11 asked for: ~2,856 a day, so one day at a time.
    expect(planner.next()).toEqual({ firstDay: '2026-11-03', lastDay: '2026-11-03' })
  })

  it('never hands out a window containing one found too big, however its days are estimated', () => {
    // A window may aim at 8,000 deals and hold 10,000: the ledger puts nearly all of what the first
    // page will say on the day after the window.
    const planner = new WindowPlanner(
      eachDay('2026-11-01', '2026-11-02'),
      [ok('2026-11-01', 1), ok('2026-11-02', 1), ok('2026-11-03', 100_000)],
      { targetRecords: 8_000, maxRecords: 10_000 },
    )
    const window = planner.next()!
    expect(window).toEqual({ firstDay: '2026-11-01', lastDay: '2026-11-02' })
    expect(planner.observe(window, 10_002, { dateFrom: '2026-11-01', dateTo: '2026-11-03' })).toBe('too-big')
    // Their share of the 10,002 is ~1,667 each (half of it shared evenly): the same window would fit
    // its aim again, and be cut again for ever; it is never handed out again.
    expect(drain(planner)).toEqual(['2026-11-01..2026-11-01', '2026-11-02..2026-11-02'])
  })

  it('reads a probe whole when its first page is small enough', () => {
    const planner = new WindowPlanner(eachDay('2026-09-01', '2026-10-30'), [])
    const probe = planner.next()!
    expect(planner.observe(probe, 320, { dateFrom: '2026-09-01', dateTo: '2026-09-08' })).toBe('continue')
    expect(drain(planner)).toEqual(['2026-09-08..2026-10-30'])
  })
})

/** Requests of windows read whole: their pages, at least one each. */
function requestsOf(windows: readonly string[], records: ReadonlyMap<string, number>): number {
  return windows.reduce((sum, window) => {
    const [firstDay, lastDay] = window.split('..') as [string, string]
    const deals = eachDay(firstDay, lastDay).reduce((total, day) => total + (records.get(day) ?? 0), 0)
    return sum + Math.max(1, Math.ceil(deals / 1000))
  }, 0)
}

describe('the last windows of a run', () => {
  /** 20 days of 1,000 deals the ledger knows, dateTo known to include its day, and one window of them read. */
  function plannerAfterOneWindow(): WindowPlanner {
    const days = eachDay('2026-11-01', '2026-11-20')
    const planner = new WindowPlanner(
      days,
      days.map((day) => ok(day, 1000)),
    )
    planner.learnDateToInclusive()
    const first = planner.next()!
    expect(first).toEqual({ firstDay: '2026-11-01', lastDay: '2026-11-15' })
    planner.learn(Object.fromEntries(eachDay(first.firstDay, first.lastDay).map((day) => [day, 1000])))
    return planner
  }

  it('aim at what the scheduler allows, down to the fewest days a window may have', () => {
    const planner = plannerAfterOneWindow()
    expect(planner.remainingRecords()).toBe(5000)
    expect(TAIL_WINDOW_RECORDS).toBe(2500)
    expect(planner.next(2500)).toEqual({ firstDay: '2026-11-16', lastDay: '2026-11-17' })
    expect(planner.remainingRecords()).toBe(3000)
    // Two days and a lone last one: the last joins rather than be asked with the day after it.
    expect(planner.next(1000)).toEqual({ firstDay: '2026-11-18', lastDay: '2026-11-20' })
    expect(planner.remainingRecords()).toBe(0)
  })

  /** Windows the scheduler hands out, in order, for sites planned by `planners` (none read or loaded meanwhile). */
  function handedOut(planners: readonly WindowPlanner[]): string[] {
    const sites: SiteRun[] = planners.map((planner, i) => ({
      site: { siteId: i + 1, token: 'token', timeZone: 'Europe/Moscow', startDate: '2026-01-01' },
      client: undefined as unknown as CalltouchClient,
      planner,
      plannedDays: planner.remainingDays,
      inFlight: 0,
      probing: false,
      stopped: undefined,
      windowsCut: 0,
    }))
    const scheduler = new WindowScheduler(sites, new DateToProtocol({ learntInclusive: () => {}, changed: () => {} }))
    const windows: string[] = []
    for (let next = scheduler.next(); typeof next === 'object'; next = scheduler.next())
      windows.push(`${next.site.site.siteId}: ${next.window.firstDay}..${next.window.lastDay}`)
    return windows
  }

  it('are handed out aiming at half of what every site has left, so that the run ends on a small window', () => {
    expect(handedOut([plannerAfterOneWindow()])).toEqual(['1: 2026-11-16..2026-11-17', '1: 2026-11-18..2026-11-20'])
  })

  it('are not made smaller while what another site has left is a guess', () => {
    const unknown = new WindowPlanner(eachDay('2026-11-16', '2026-11-17'), [])
    expect(handedOut([plannerAfterOneWindow(), unknown])).toEqual([
      '1: 2026-11-16..2026-11-20',
      '2: 2026-11-16..2026-11-17',
    ])
  })

  it('tell what is left only once counted: not before a window of the site is read, nor over days of a window found too big', () => {
    const days = eachDay('2026-11-01', '2026-11-20')
    const planner = new WindowPlanner(days, [])
    expect(planner.remainingRecords()).toBeUndefined()
    const probe = planner.next()!
    expect(planner.observe(probe, 7000, { dateFrom: '2026-11-01', dateTo: '2026-11-08' })).toBe('continue')
    // The probe's first page tells a density, not yet what the days hold.
    expect(planner.remainingRecords()).toBeUndefined()
    planner.learn(Object.fromEntries(eachDay(probe.firstDay, probe.lastDay).map((day) => [day, 1000])))
    expect(planner.remainingRecords()).toBe(13 * 1000)
    // Stops counting once it has enough.
    expect(planner.remainingRecords(2500)).toBe(3000)
    const next = planner.next()!
    expect(planner.observe(next, 40_000, { dateFrom: next.firstDay, dateTo: next.lastDay })).toBe('too-big')
    expect(planner.remainingRecords()).toBeUndefined()
  })
})

describe('the requests a plan costs', () => {
  it('reads 60 known days of 2,250 deals in 10 windows of 6 days and 140 requests (minimum 135; 150 at 5,000 a window)', () => {
    const days = eachDay('2026-09-30', '2026-11-28')
    const ledger = days.map((day) => ok(day, 2250))
    const counts = new Map(days.map((day) => [day, 2250]))
    const planner = new WindowPlanner(days, ledger)
    planner.learnDateToInclusive()
    const windows = drain(planner)
    expect(DEFAULT_TARGET_WINDOW_RECORDS).toBe(15_000)
    expect(windows).toHaveLength(10)
    expect(windows[0]).toBe('2026-09-30..2026-10-05')
    expect(requestsOf(windows, counts)).toBe(140)
    const small = new WindowPlanner(days, ledger, AIM_5000)
    small.learnDateToInclusive()
    const smallWindows = drain(small)
    expect(smallWindows).toHaveLength(30)
    expect(requestsOf(smallWindows, counts)).toBe(150)
  })

  it('reads a site of a few dozen deals a day in one window after its probe', () => {
    const days = eachDay('2026-09-30', '2026-11-28')
    const planner = new WindowPlanner(days, [])
    const probe = planner.next()!
    expect(planner.observe(probe, 294, { dateFrom: '2026-09-30', dateTo: '2026-10-07' })).toBe('continue')
    expect(planner.takeDayAfter(probe)).toEqual({ firstDay: '2026-09-30', lastDay: '2026-10-07' })
    planner.learnDateToInclusive()
    expect(drain(planner)).toEqual(['2026-10-08..2026-11-28'])
  })

  it('with every day known, never plans a window it must cut, and spends at most ⌈deals/1000⌉ + 1 a window, with windows at most 2 × deals / aim + 1', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: DEFAULT_MAX_WINDOW_RECORDS - DEFAULT_TARGET_WINDOW_RECORDS }), {
          minLength: 1,
          maxLength: 120,
        }),
        fc.boolean(),
        (perDay, inclusive) => {
          const days = eachDay('2026-01-01', addDaysTo('2026-01-01', perDay.length - 1))
          const counts = new Map(days.map((day, i) => [day, perDay[i] ?? 0]))
          const planner = new WindowPlanner(
            days,
            days.map((day) => ok(day, counts.get(day) ?? 0)),
          )
          if (inclusive) planner.learnDateToInclusive()
          const windows = drain(planner)
          const total = perDay.reduce((sum, deals) => sum + deals, 0)
          for (const window of windows) {
            const [firstDay, lastDay] = window.split('..') as [string, string]
            const deals = eachDay(firstDay, lastDay).reduce((sum, day) => sum + (counts.get(day) ?? 0), 0)
            expect(deals).toBeLessThanOrEqual(DEFAULT_MAX_WINDOW_RECORDS)
          }
          // Two windows in a row hold more than the aim (the first stopped because the second's first day did not fit).
          expect(windows.length).toBeLessThanOrEqual(Math.floor((2 * total) / DEFAULT_TARGET_WINDOW_RECORDS) + 1)
          expect(requestsOf(windows, counts)).toBeLessThanOrEqual(Math.ceil(total / 1000) + windows.length)
        },
      ),
      { numRuns: 500 },
    )
  })
})

describe('the dates asked for a window', () => {
  it('asks for the day after the window unless dateTo is known to include its day', () => {
    expect(requestRange({ firstDay: '2026-11-01', lastDay: '2026-11-05' }, false)).toEqual({
      dateFrom: '2026-11-01',
      dateTo: '2026-11-06',
    })
    expect(requestRange({ firstDay: '2026-11-01', lastDay: '2026-11-05' }, true)).toEqual({
      dateFrom: '2026-11-01',
      dateTo: '2026-11-05',
    })
    // Equal dates are refused by the vendor page: one day is always asked as [day, day + 1]
    // (which is why the planner gives a dense day a second day once dateTo includes its own).
    expect(requestRange({ firstDay: '2026-12-31', lastDay: '2026-12-31' }, true)).toEqual({
      dateFrom: '2026-12-31',
      dateTo: '2027-01-01',
    })
  })
})
