/**
 * Both lead journals of every simulated site: routing, answers and the
 * expected-data helpers. start-simulator.ts puts them behind the same per-IP
 * limit, faults and stats as the deals export.
 */
import { setImmediate } from 'node:timers/promises'
import { callMatches, parseCallsQuery, renderCall, type CallBlocks, type CallRecord } from './calls-journal.ts'
import { generateLeadDay, type GeneratedLead, type LeadDay } from './lead-generator.ts'
import { parseRequestsQuery, renderRequest, type RequestBlocks, type RequestRecord } from './requests-journal.ts'
import type { ResolvedSiteConfig } from './simulator-options.ts'
import type { LeadEndpoint } from './simulator-stats.ts'
import { dayNumberOf, MS_PER_DAY, toWallMs, type DayKey } from './wall-clock.ts'

const CALLS_PATH = /^\/calls-service\/RestAPI\/(\d+)\/calls-diary\/calls\/?$/
const REQUESTS_PATH = /^\/calls-service\/RestAPI\/requests\/?$/
/** Leads kept generated (a few busy days), so paging a window does not regenerate its days. */
const CACHE_LEADS = 200_000

/** A request to one of the journals. */
export interface LeadRoute {
  endpoint: LeadEndpoint
  /** From the path (calls); requests name their site in the query. */
  siteId: number | undefined
}

/** An answer: an error as JSON, or a 200 body (bare array or paging envelope). */
export type LeadAnswer = { status: number; json: unknown } | { status: 200; body: Buffer }

/** The `with*` blocks the expected-data helpers include; all on by default, as the pipeline asks. */
export type ExpectedCallsOptions = CallBlocks
export type ExpectedRequestsOptions = RequestBlocks

const FORBIDDEN = { message: 'Доступ запрещён: неверный токен или идентификатор сайта' }

/** One site's generated lead days, bounded by lead count. */
class SiteLeads {
  private readonly days = new Map<number, { day: LeadDay; size: number }>()
  private size = 0
  /** Ids of the leads deleted in Calltouch ({@link LeadJournals.removeLead}), by journal: no answer holds them. */
  readonly removed = { calls: new Set<number>(), requests: new Set<number>() }

  constructor(
    readonly seed: number,
    readonly config: ResolvedSiteConfig,
  ) {}

  day(dayNumber: number): LeadDay {
    const hit = this.days.get(dayNumber)
    if (hit !== undefined) {
      this.days.delete(dayNumber)
      this.days.set(dayNumber, hit)
      return hit.day
    }
    const day = generateLeadDay(this.seed, this.config, dayNumber)
    const size = day.calls.length + day.requests.length + 1
    this.days.set(dayNumber, { day, size })
    this.size += size
    for (const [key, entry] of this.days) {
      if (this.size <= CACHE_LEADS || this.days.size <= 1) break
      this.days.delete(key)
      this.size -= entry.size
    }
    return day
  }

  /** Leads of a kind visible at the clock in [fromWallMs, toWallMs), days ascending, each day in journal order. */
  select(
    kind: 'calls' | 'requests',
    fromDay: number,
    toDay: number,
    fromWallMs: number,
    toWallMs: number,
    clockWallMs: number,
    keep: (lead: GeneratedLead) => boolean = () => true,
  ): GeneratedLead[] {
    const out: GeneratedLead[] = []
    // No lead exists after the clock: days after it are not generated at all.
    const lastDay = Math.min(toDay, Math.floor(clockWallMs / MS_PER_DAY))
    for (let d = fromDay; d <= lastDay; d++) {
      for (const lead of this.day(d)[kind]) {
        if (lead.wallMs < fromWallMs || lead.wallMs >= toWallMs || lead.wallMs > clockWallMs) continue
        if (this.removed[kind].has(lead.id)) continue
        if (keep(lead)) out.push(lead)
      }
    }
    return out
  }
}

function joinRecords(records: readonly unknown[], head: string, tail: string): Buffer {
  let text = head
  for (let i = 0; i < records.length; i++) text += (i === 0 ? '' : ',') + JSON.stringify(records[i])
  return Buffer.from(text + tail, 'utf8')
}

export class LeadJournals {
  private readonly sites: Map<number, SiteLeads>

  constructor(
    seed: number,
    sites: readonly ResolvedSiteConfig[],
    private readonly timeZone: string,
    /** `pageTotal` of an empty paged calls result (the simulator's `emptyPageTotal`). */
    private readonly emptyPageTotal: 0 | 1,
  ) {
    this.sites = new Map(sites.map((config) => [config.siteId, new SiteLeads(seed, config)]))
  }

  /** Which journal a path is, if any. */
  route(path: string): LeadRoute | undefined {
    const calls = CALLS_PATH.exec(path)
    if (calls !== null) return { endpoint: 'calls', siteId: Number(calls[1]) }
    if (REQUESTS_PATH.test(path)) return { endpoint: 'requests', siteId: undefined }
    return undefined
  }

  /**
   * Generates the days a GET to a journal will read, one per turn of the event loop, before
   * {@link answer} reads them from the cache: a busy calls day takes ~100 ms to generate here, and
   * a 5-day window generated in one go held the loop half a second, stamping every request that
   * arrived meanwhile as arriving together (more than 5 in a second by this server's count).
   */
  async prepare(route: LeadRoute, params: URLSearchParams, clockMs: number): Promise<void> {
    const parsed = route.endpoint === 'calls' ? parseCallsQuery(params) : parseRequestsQuery(params)
    if ('error' in parsed) return
    const siteId = 'siteId' in parsed.query ? parsed.query.siteId : route.siteId
    const site = this.sites.get(siteId as number)
    if (site === undefined || params.get('clientApiId') !== site.config.token) return
    const lastDay = Math.min(parsed.query.range.toDay, Math.floor(toWallMs(clockMs, this.timeZone) / MS_PER_DAY))
    for (let day = parsed.query.range.fromDay; day <= lastDay; day++) {
      site.day(day)
      await setImmediate()
    }
  }

  /** Answers a GET to a journal at the clock (epoch milliseconds). */
  answer(route: LeadRoute, params: URLSearchParams, clockMs: number): LeadAnswer {
    const clockWallMs = toWallMs(clockMs, this.timeZone)
    if (route.endpoint === 'calls') {
      const site = this.sites.get(route.siteId as number)
      if (site === undefined || params.get('clientApiId') !== site.config.token) return { status: 403, json: FORBIDDEN }
      const parsed = parseCallsQuery(params)
      if ('error' in parsed) return { status: 400, json: { data: { apiErrorData: parsed.error } } }
      const { range, paging, blocks } = parsed.query
      const leads = site.select(
        'calls',
        range.fromDay,
        range.toDay,
        range.fromWallMs,
        range.toWallMs,
        clockWallMs,
        (lead) => callMatches(lead, parsed.query, clockWallMs),
      )
      const render = (lead: GeneratedLead): CallRecord =>
        renderCall(lead, site.config.siteId, clockWallMs, this.timeZone, blocks)
      if (paging === undefined) return { status: 200, body: joinRecords(leads.map(render), '[', ']') }
      const { page, limit } = paging
      const pageTotal = leads.length === 0 ? this.emptyPageTotal : Math.ceil(leads.length / limit)
      const records = leads.slice((page - 1) * limit, page * limit).map(render)
      return {
        status: 200,
        body: joinRecords(
          records,
          `{"page":${page},"pageTotal":${pageTotal},"pageSize":${limit},"recordsTotal":${leads.length},"records":[`,
          ']}',
        ),
      }
    }
    const parsed = parseRequestsQuery(params)
    if ('error' in parsed) {
      // Without a siteId the token cannot be checked against a site: a 400 says what is missing.
      return { status: 400, json: { data: { apiErrorData: parsed.error } } }
    }
    const site = this.sites.get(parsed.query.siteId)
    if (site === undefined || params.get('clientApiId') !== site.config.token) return { status: 403, json: FORBIDDEN }
    const { range, blocks } = parsed.query
    const leads = site.select('requests', range.fromDay, range.toDay, range.fromWallMs, range.toWallMs, clockWallMs)
    return {
      status: 200,
      body: joinRecords(
        leads.map((lead) => renderRequest(lead, site.config.siteId, clockWallMs, this.timeZone, blocks)),
        '[',
        ']',
      ),
    }
  }

  /**
   * Deletes a lead, as Calltouch does with a spam call or a test request: from now on neither its
   * journal nor the expected-data helpers hold it, whatever the clock; {@link reset} brings it back.
   */
  removeLead(siteId: number, journal: 'calls' | 'requests', id: number): void {
    this.site(siteId).removed[journal].add(id)
  }

  /** Brings back every removed lead (the simulator's reset). */
  reset(): void {
    for (const site of this.sites.values()) {
      site.removed.calls.clear()
      site.removed.requests.clear()
    }
  }

  private site(siteId: number): SiteLeads {
    const site = this.sites.get(siteId)
    if (site === undefined)
      throw new RangeError(`No site ${siteId}; the simulator has ${[...this.sites.keys()].join(', ')}`)
    return site
  }

  private days(fromDay: DayKey, toDay: DayKey): { from: number; to: number } {
    const from = dayNumberOf(fromDay)
    const to = dayNumberOf(toDay)
    if (from === undefined || to === undefined)
      throw new RangeError(`days must be 'YYYY-MM-DD', got ${JSON.stringify(fromDay)} and ${JSON.stringify(toDay)}`)
    return { from, to }
  }

  /** Calls the journal serves at the clock for days fromDay..toDay (inclusive), in journal order. */
  expectedCalls(
    siteId: number,
    fromDay: DayKey,
    toDay: DayKey,
    clockMs: number,
    options: ExpectedCallsOptions = {},
  ): CallRecord[] {
    const site = this.site(siteId)
    const { from, to } = this.days(fromDay, toDay)
    const clockWallMs = toWallMs(clockMs, this.timeZone)
    const blocks: Required<CallBlocks> = {
      withCallTags: options.withCallTags ?? true,
      withOrders: options.withOrders ?? true,
      withYandexDirect: options.withYandexDirect ?? true,
    }
    return site
      .select('calls', from, to, from * MS_PER_DAY, (to + 1) * MS_PER_DAY, clockWallMs)
      .map((lead) => renderCall(lead, siteId, clockWallMs, this.timeZone, blocks))
  }

  /** Requests the journal serves at the clock for days fromDay..toDay (inclusive), in journal order. */
  expectedRequests(
    siteId: number,
    fromDay: DayKey,
    toDay: DayKey,
    clockMs: number,
    options: ExpectedRequestsOptions = {},
  ): RequestRecord[] {
    const site = this.site(siteId)
    const { from, to } = this.days(fromDay, toDay)
    const clockWallMs = toWallMs(clockMs, this.timeZone)
    const blocks: Required<RequestBlocks> = {
      withRequestTags: options.withRequestTags ?? true,
      withYandexDirect: options.withYandexDirect ?? true,
    }
    return site
      .select('requests', from, to, from * MS_PER_DAY, (to + 1) * MS_PER_DAY, clockWallMs)
      .map((lead) => renderRequest(lead, siteId, clockWallMs, this.timeZone, blocks))
  }
}
