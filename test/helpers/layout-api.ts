/**
 * A Calltouch deals export over a plain day layout, served through an injected
 * `fetch`: fast enough for thousands of property-based runs of the extractor
 * (the simulator over HTTP is what the integration and e2e tests use). Deals
 * are `<day>#<n>`, ordered by day then number, paged 1000 at a time exactly
 * as the vendor page describes; whether dateTo includes its day and what
 * `pageTotal` an empty result says are choices of the test.
 */
import { addDays, daysBetween, type Day } from '../../pipelines/core/day.ts'
import type { RequestLimiter } from '../../pipelines/http/request-limiter.ts'
import type { WindowLoader } from '../../pipelines/sources/calltouch-deals/sync-sites.ts'

const PAGE_SIZE = 1000

/** Deals added to one day once the API has served `afterRequests` requests, at a later page of a read. */
export interface LayoutChange {
  readonly afterRequests: number
  readonly addDeals: number
}

export interface LayoutApiOptions {
  /** Deals a day, from `firstDay` on; days outside hold none. */
  readonly firstDay: Day
  readonly counts: readonly number[]
  readonly dateToInclusive: boolean
  /** `pageTotal` of an empty result (the vendor does not say whether 0 or 1). */
  readonly emptyPageTotal: 0 | 1
  readonly change?: LayoutChange | undefined
  /** Requests after which every request is refused with a 400, so a runaway run still ends. */
  readonly maxRequests: number
}

export interface LayoutApi {
  readonly fetch: typeof fetch
  /** Requests served (refused ones included). */
  readonly requests: number
  /** Deals a day now. */
  dealsOn(day: Day): number
  /**
   * Pages of the reads the change tore (reads under way over the day it changed), which a
   * correct extractor reads again; 0 when no change happened.
   */
  readonly tornReadPages: number
}

export function createLayoutApi(options: LayoutApiOptions): LayoutApi {
  const counts = [...options.counts]
  const firstPages = new Map<string, { recordsTotal: number; pagesServed: Set<number>; pageTotal: number }>()
  let requests = 0
  let changed = false
  let tornReadPages = 0
  const indexOf = (day: Day): number => daysBetween(options.firstDay, day)
  const dealsOn = (day: Day): number => counts[indexOf(day)] ?? 0
  const inRange = (day: Day, from: Day, to: Day): boolean => from <= day && day <= to

  const serve = (url: URL): Response => {
    requests += 1
    if (requests > options.maxRequests)
      return json(400, {
        data: { apiErrorData: { errorCode: 0, errorMessage: `runaway: more than ${options.maxRequests} requests` } },
      })
    const dateFrom = isoDay(url.searchParams.get('dateFrom') ?? '')
    const dateTo = isoDay(url.searchParams.get('dateTo') ?? '')
    const page = Number(url.searchParams.get('page'))
    if (!(dateFrom < dateTo))
      return json(400, { data: { apiErrorData: { errorCode: 1, errorMessage: 'dateFrom must be less than dateTo' } } })
    const lastDay = options.dateToInclusive ? dateTo : addDays(dateTo, -1)
    const key = `${dateFrom}..${lastDay}`
    const change = options.change
    if (change !== undefined && !changed && page >= 2 && requests > change.afterRequests) {
      changed = true
      // Every read under way over the changed day is torn, this one included.
      for (const [range, read] of firstPages) {
        const [from, to] = range.split('..') as [Day, Day]
        if (inRange(dateFrom, from, to) && read.pagesServed.size < read.pageTotal) tornReadPages += read.pageTotal
      }
      counts[indexOf(dateFrom)] = dealsOn(dateFrom) + change.addDeals
    }
    const days: Day[] = []
    for (let day = dateFrom; day <= lastDay; day = addDays(day, 1)) days.push(day)
    const recordsTotal = days.reduce((sum, day) => sum + dealsOn(day), 0)
    const pageTotal = recordsTotal === 0 ? options.emptyPageTotal : Math.ceil(recordsTotal / PAGE_SIZE)
    if (page === 1) firstPages.set(key, { recordsTotal, pagesServed: new Set([1]), pageTotal })
    else firstPages.get(key)?.pagesServed.add(page)
    const records: string[] = []
    let skip = (page - 1) * PAGE_SIZE
    for (const day of days) {
      const deals = dealsOn(day)
      if (skip >= deals) {
        skip -= deals
        continue
      }
      const [y, m, d] = day.split('-')
      for (let n = skip; n < deals && records.length < PAGE_SIZE; n++)
        records.push(`{"orderNumber":"${day}#${n}","orderDate":"${d}/${m}/${y} 10:00:00"}`)
      skip = 0
      if (records.length === PAGE_SIZE) break
    }
    return new Response(
      `{"page":${page},"pageTotal":${pageTotal},"pageSize":${PAGE_SIZE},"recordsTotal":${recordsTotal},"records":[${records.join(',')}]}`,
      { status: 200 },
    )
  }

  return {
    fetch: async (input: string | URL | Request) =>
      serve(new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)),
    get requests() {
      return requests
    },
    get tornReadPages() {
      return tornReadPages
    },
    dealsOn,
  }
}

/** A limiter that sends at once and counts: the rate is not what these runs test. */
export function countingLimiter(): RequestLimiter {
  const counters = { requests: 0, retries: 0 }
  return {
    counters,
    countRetry: () => void (counters.retries += 1),
    waiting: () => 0,
    stop: async () => {},
    schedule(_priority, _url, request) {
      counters.requests += 1
      return request()
    },
  }
}

/** A loader that keeps, per day, the deals of the last window that loaded it, and the windows loaded (`first..last`). */
export function countingLoader(): WindowLoader & {
  readonly dealsByDay: Map<Day, Set<string>>
  readonly windows: string[]
} {
  const dealsByDay = new Map<Day, Set<string>>()
  const windows: string[] = []
  return {
    dealsByDay,
    windows,
    async loadWindow(_db, window) {
      windows.push(`${window.firstDay}..${window.lastDay}`)
      const byDay = new Map<Day, Set<string>>()
      for (let day = window.firstDay; day <= window.lastDay; day = addDays(day, 1)) byDay.set(day, new Set())
      for (const page of window.pages) {
        const text = typeof page === 'string' ? page : Buffer.from(page).toString('utf8')
        for (const record of (JSON.parse(text) as { records: { orderNumber: string; orderDate: string }[] }).records) {
          byDay.get(isoDay(record.orderDate.slice(0, 10)))?.add(record.orderNumber)
        }
      }
      const recordsByDay: Record<Day, number> = {}
      for (const [day, deals] of byDay) {
        dealsByDay.set(day, deals)
        recordsByDay[day] = deals.size
      }
      const seen = [...byDay.values()].reduce((sum, deals) => sum + deals.size, 0)
      return { seen, landed: seen, changed: seen, rejected: 0, removed: 0, recordsByDay }
    },
    async recordWindowFailure() {},
  }
}

function isoDay(ddmmyyyy: string): Day {
  const [d, m, y] = ddmmyyyy.split('/')
  return `${y}-${m}-${d}`
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}
