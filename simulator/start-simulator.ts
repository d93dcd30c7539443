/**
 * The HTTP server of the simulator.
 */
import http from 'node:http'
import { setImmediate } from 'node:timers/promises'
import type { AddressInfo, Socket } from 'node:net'
import { parseExportQuery, type ExportQuery } from './export-query.ts'
import { FaultInjector, NO_FAULT, type FaultDecision } from './fault-injector.ts'
import { applyWrite, type WriteKind } from './order-writes.ts'
import { LeadJournals, type ExpectedCallsOptions, type ExpectedRequestsOptions } from './lead-journals.ts'
import type { CallRecord } from './calls-journal.ts'
import type { RequestRecord } from './requests-journal.ts'
import { hash32 } from './prng.ts'
import { RateLimiter } from './rate-limiter.ts'
import { SimulatedSite, type DealFilter, type RenderedDay } from './simulated-site.ts'
import {
  resolveFaults,
  resolveSimulatorOptions,
  type FaultConfig,
  type ResolvedFaults,
  type SimulatorOptions,
} from './simulator-options.ts'
import { StatsRecorder, type ApiEndpoint, type SimulatorStats } from './simulator-stats.ts'
import type { SimulatedApi, SimulatorClock } from './simulated-api.ts'
import { SimulatedVkAds } from './vk-ads/simulated-vk-ads.ts'
import { SimulatedYandexDirect } from './yandex-direct/simulated-yandex-direct.ts'
import type { DealRecord } from './deal-record.ts'
import {
  dayNumberOf,
  formatCalltouchDateTime,
  formatInstant,
  MS_PER_DAY,
  parseInstant,
  toWallMs,
  type DayKey,
} from './wall-clock.ts'

/** A running simulator. */
export interface RunningSimulator {
  /** Base URL, e.g. 'http://127.0.0.1:41234' (point CALLTOUCH_BASE_URL here). */
  url: string
  port: number
  /** Stops listening, drops open connections and pending timers. */
  close(): Promise<void>
  /** Same as `GET /_sim/stats`. */
  stats(): SimulatorStats
  /** The clock as an ISO 8601 string in the simulator's zone. */
  now(): string
  /** Sets the clock (ISO 8601; without an offset it is read in the simulator's zone). */
  setClock(now: string): void
  /** Replaces the faults (same as `POST /_sim/faults`). */
  setFaults(faults: FaultConfig): void
  /** Back to the start state: clock, faults, writes, stats and rate-limit history. */
  reset(): void
  /** A site, to read exactly what the export serves (see SimulatedSite.dealsOn). */
  site(siteId: number): SimulatedSite
  /** The Yandex Direct API served on the same port. */
  readonly yandexDirect: SimulatedYandexDirect
  /** The VK Ads API served on the same port. */
  readonly vkAds: SimulatedVkAds
  /**
   * Records the export serves at the current clock for days fromDay..toDay
   * (both inclusive, 'YYYY-MM-DD' site-local), writes included, in export order.
   * See {@link expectedDeals} for the options.
   */
  expectedDeals(siteId: number, fromDay: DayKey, toDay: DayKey, options?: ExpectedDealsOptions): DealRecord[]
  /**
   * Calls the calls journal serves at the current clock for days fromDay..toDay (both
   * inclusive, site-local), in journal order, with `callTags`, `orders` and `yandexDirect`
   * unless turned off in `options`.
   */
  expectedCalls(siteId: number, fromDay: DayKey, toDay: DayKey, options?: ExpectedCallsOptions): CallRecord[]
  /** Requests the requests journal serves now for days fromDay..toDay, with `RequestTags` and `yandexDirect` unless turned off. */
  expectedRequests(siteId: number, fromDay: DayKey, toDay: DayKey, options?: ExpectedRequestsOptions): RequestRecord[]
  /**
   * Deletes a call (`'calls'`, by callId) or a request (`'requests'`, by requestId) of a site, as
   * Calltouch does with spam or a test lead: no journal answer and no expected-data helper holds
   * it from then on, whatever the clock; `reset()` brings it back.
   */
  removeLead(siteId: number, journal: 'calls' | 'requests', id: number): void
}

/** Options of the expected-deals helpers. */
export interface ExpectedDealsOptions {
  /** Also deals not created by the API (`withAllOrderOrigins=true`). Default true, as the pipeline asks. */
  withAllOrderOrigins?: boolean
}

/** Collects the records of days fromDay..toDay (inclusive) served at a clock. */
export function collectDeals(
  site: SimulatedSite,
  fromDay: DayKey,
  toDay: DayKey,
  clockEpochMs: number,
  options: ExpectedDealsOptions = {},
): DealRecord[] {
  const from = dayNumberOf(fromDay)
  const to = dayNumberOf(toDay)
  if (from === undefined || to === undefined)
    throw new RangeError(`days must be 'YYYY-MM-DD', got ${JSON.stringify(fromDay)} and ${JSON.stringify(toDay)}`)
  const allOrigins = options.withAllOrderOrigins ?? true
  const clockWallMs = toWallMs(clockEpochMs, site.timeZone)
  const out: DealRecord[] = []
  for (let day = from; day <= to; day++) {
    for (const record of site.renderDay(day, clockWallMs).records)
      if (allOrigins || record.orderOrigin === 'API') out.push(record)
  }
  return out
}

/**
 * The records the export of a fresh simulator with these options serves (no
 * writes received), for days fromDay..toDay inclusive, in export order.
 * `custom` values are integer literals as text; `tags` is what
 * `withOrdersTags=true` serves (without it the API leaves `tags` out).
 *
 * @example
 * const deals = expectedDeals({ seed: 7 }, 12345, '2026-11-01', '2026-11-07')
 */
export function expectedDeals(
  options: SimulatorOptions,
  siteId: number,
  fromDay: DayKey,
  toDay: DayKey,
  expectedOptions: ExpectedDealsOptions = {},
): DealRecord[] {
  const resolved = resolveSimulatorOptions(options)
  const config = resolved.sites.find((s) => s.siteId === siteId)
  if (config === undefined) throw new RangeError(`No site ${siteId} in the options`)
  return collectDeals(
    new SimulatedSite(resolved.seed, config, resolved.timeZone),
    fromDay,
    toDay,
    resolved.nowMs,
    expectedOptions,
  )
}

const EXPORT_PATH = /^\/calls-service\/RestAPI\/(\d+)\/orders-diary\/orders\/?$/
const NODE_ID_PATH = /^\/calls-service\/RestAPI\/(\d+)\/getnodeid\/?$/
const WRITE_PATH = /^\/lead-service\/v1\/api\/client-order\/(create|update|delete)\/?$/
const MAX_BODY_BYTES = 10 * 1024 * 1024

const FORBIDDEN_MESSAGE = 'Доступ запрещён: неверный токен или идентификатор сайта'

const COMMA = Buffer.from(',')
const TAIL = Buffer.from(']}')

class HttpAnswer {
  constructor(
    readonly status: number,
    readonly body: string | Buffer,
    readonly headers: Record<string, string> = { 'content-type': 'application/json;charset=UTF-8' },
  ) {}

  static json(status: number, value: unknown): HttpAnswer {
    return new HttpAnswer(status, JSON.stringify(value))
  }

  static apiError(status: number, error: { errorCode: number; errorMessage: string }): HttpAnswer {
    return HttpAnswer.json(status, { data: { apiErrorData: error } })
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        reject(new RangeError('body too large'))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

/**
 * Starts a simulator on 127.0.0.1.
 *
 * @example
 * const sim = await startSimulator({ port: 0, seed: 7, now: '2026-11-29T12:00:00+03:00' })
 * const res = await fetch(`${sim.url}/calls-service/RestAPI/12345/orders-diary/orders?clientApiId=test-token&dateFrom=20/11/2026&dateTo=21/11/2026`)
 * await sim.close()
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const resolved = resolveSimulatorOptions(options)
  const { timeZone } = resolved
  const sites = new Map(
    resolved.sites.map((config) => [config.siteId, new SimulatedSite(resolved.seed, config, timeZone)]),
  )
  const leads = new LeadJournals(resolved.seed, resolved.sites, timeZone, resolved.emptyPageTotal)
  let clockMs = resolved.nowMs
  const faults = new FaultInjector(resolved.seed, resolved.faults, resolved.latencyMs, resolved.latencyJitterMs)
  const limiter =
    resolved.rateLimit === false ? undefined : new RateLimiter(resolved.rateLimit.perSecond, resolved.rateLimit.queue)
  const retryAfter = resolved.rateLimit !== false && resolved.rateLimit.retryAfter
  const stats = new StatsRecorder()
  const timers = new Set<NodeJS.Timeout>()
  const sockets = new Set<Socket>()
  let shiftCount = 0
  let closed = false

  const sleep = (ms: number): Promise<void> =>
    ms <= 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          const timer = setTimeout(() => {
            timers.delete(timer)
            resolve()
          }, ms)
          timers.add(timer)
        })

  const clock: SimulatorClock = { nowMs: () => clockMs, timeZone }
  const yandexDirect = new SimulatedYandexDirect(options.yandexDirect ?? {}, clock, resolved.seed)
  const vkAds = new SimulatedVkAds(options.vkAds ?? {}, clock, resolved.seed)
  const adApis: readonly SimulatedApi[] = [yandexDirect, vkAds]

  const reset = (): void => {
    for (const api of adApis) api.reset()
    for (const site of sites.values()) site.reset()
    leads.reset()
    clockMs = resolved.nowMs
    faults.restart(resolved.faults)
    limiter?.clear()
    stats.reset()
    shiftCount = 0
  }

  const tooManyRequests = (): HttpAnswer =>
    new HttpAnswer(429, JSON.stringify({ message: 'Превышен лимит запросов: не более 5 запросов в секунду' }), {
      'content-type': 'application/json;charset=UTF-8',
      ...(retryAfter ? { 'retry-after': '1' } : {}),
    })

  /**
   * What an export request selects: the total, and a page of it as slices of the
   * days' cached UTF-8 text (a run of consecutive records is one slice, commas
   * included), so serving a page copies no record.
   */
  /** The days an export query reads and the filter it applies to them, at the clock. */
  function exportPlan(
    site: SimulatedSite,
    query: ExportQuery,
  ): { clockWallMs: number; days: number[]; filter: DealFilter; filterKey: string } {
    const clockWallMs = toWallMs(clockMs, timeZone)
    const filterBase = {
      allOrigins: query.allOrigins,
      orderSource: query.orderSource,
      manager: query.manager,
      service: query.service,
      phone: query.phone,
    }
    // Lookups by order number or phone ignore the dates (the vendor page says they are not sent then).
    let days: number[]
    let filter: DealFilter
    if (query.orderNumber !== undefined) {
      const day = site.locate(query.orderNumber, clockWallMs)
      days = day === undefined ? [] : [day]
      filter = { ...filterBase, fromWallMs: -Infinity, toWallMs: Infinity }
    } else if (query.phone !== undefined) {
      const last = Math.floor(clockWallMs / MS_PER_DAY)
      const set = new Set<number>(site.overlayDayNumbers())
      for (let day = site.config.historyStartDay; day <= last; day++) set.add(day)
      days = [...set].sort((a, b) => a - b)
      filter = { ...filterBase, fromWallMs: -Infinity, toWallMs: Infinity }
    } else {
      const range = query.range as NonNullable<ExportQuery['range']>
      days = []
      for (let day = range.fromDay; day <= range.toDay; day++) days.push(day)
      filter = { ...filterBase, fromWallMs: range.fromWallMs, toWallMs: range.toWallMs }
    }
    const filterKey = JSON.stringify([
      filter.allOrigins,
      filter.orderSource,
      filter.manager,
      filter.service,
      filter.phone,
    ])
    return { clockWallMs, days, filter, filterKey }
  }

  function exportRecords(
    site: SimulatedSite,
    query: ExportQuery,
  ): { total: number; pick: (offset: number, limit: number) => Buffer[] } {
    const { clockWallMs, days, filter, filterKey } = exportPlan(site, query)
    const orderNumber = query.orderNumber
    const matching = (dayNumber: number): { day: RenderedDay; indexes: Int32Array } => {
      const day = site.renderDay(dayNumber, clockWallMs)
      const indexes = site.matchingOn(dayNumber, clockWallMs, filter, filterKey)
      return {
        day,
        indexes: orderNumber === undefined ? indexes : indexes.filter((i) => day.orderNumber[i] === orderNumber),
      }
    }
    const counts = days.map((day) =>
      orderNumber === undefined ? site.countOn(day, clockWallMs, filter, filterKey) : matching(day).indexes.length,
    )
    const total = counts.reduce((a, b) => a + b, 0)
    const pick = (offset: number, limit: number): Buffer[] => {
      const out: Buffer[] = []
      let picked = 0
      let skipped = 0
      for (let d = 0; d < days.length && picked < limit; d++) {
        const count = counts[d] as number
        if (skipped + count <= offset) {
          skipped += count
          continue
        }
        const { day, indexes } = matching(days[d] as number)
        const { buffer, offsets } = day.text(query.withTags)
        const first = Math.max(0, offset - skipped)
        const last = Math.min(indexes.length, first + (limit - picked))
        skipped += first
        // Runs of consecutive records are one slice of the day's text.
        for (let k = first; k < last;) {
          let end = k + 1
          while (end < last && (indexes[end] as number) === (indexes[end - 1] as number) + 1) end++
          out.push(
            buffer.subarray(offsets[indexes[k] as number], (offsets[(indexes[end - 1] as number) + 1] as number) - 1),
          )
          picked += end - k
          skipped += end - k
          k = end
        }
      }
      return out
    }
    return { total, pick }
  }

  function shiftWindow(site: SimulatedSite, query: ExportQuery): void {
    const range = query.range
    if (range === undefined) return
    const n = shiftCount++
    const orderNumber = `SHIFT${hash32(resolved.seed, site.siteId, n).toString(36).toUpperCase()}${n}`
    site.create({
      client: { phones: null, fio: null },
      completedAmount: null,
      completedDate: null,
      createdDate: formatCalltouchDateTime(toWallMs(clockMs, timeZone)).slice(0, 10),
      funnel: null,
      isDeleted: false,
      manager: query.manager ?? null,
      orderDate: formatCalltouchDateTime(range.fromWallMs),
      orderId: n + 1,
      orderNumber,
      orderOrigin: 'API',
      orderSource:
        query.orderSource === 'REQUEST'
          ? { requestNumber: orderNumber, type: 'REQUEST' }
          : { callId: null, duration: null, phoneNumber: null, type: 'CALL', ani: query.phone ?? null, dateCall: null },
      orderStatus: 'start',
      plannedAmount: null,
      service: query.service ?? null,
      tags: null,
      visit: null,
    })
    if (query.phone !== undefined)
      site.update(orderNumber, [{ kind: 'client', value: { phones: query.phone, fio: null } }], Infinity)
    stats.fault('shiftedPages')
  }

  /**
   * Builds what an export query reads (each day rendered and filtered; cached) one day per turn of
   * the event loop, before its answer is made from the cache. Building is synchronous (~30 ms a
   * day of 2,500 deals here): a 6-day window built in one go held the loop ~190 ms, and a request
   * arriving meanwhile was stamped that late, so the client's 5 a second looked like 6 in one
   * second by this server's count. A day at a time, a stamp is late by one day's building at most.
   */
  async function buildExportInTurns(siteId: number, params: URLSearchParams): Promise<void> {
    const site = sites.get(siteId)
    if (site === undefined || params.get('clientApiId') !== site.config.token) return
    const parsed = parseExportQuery(params, resolved)
    if ('error' in parsed) return
    const { clockWallMs, days, filter, filterKey } = exportPlan(site, parsed.query)
    for (const day of days) {
      site.countOn(day, clockWallMs, filter, filterKey)
      await setImmediate()
    }
  }

  function handleExport(
    siteId: number,
    params: URLSearchParams,
    fault: FaultDecision,
  ): HttpAnswer | { parts: Buffer[]; length: number; truncate: boolean } {
    const site = sites.get(siteId)
    if (site === undefined || params.get('clientApiId') !== site.config.token)
      return HttpAnswer.json(403, { message: FORBIDDEN_MESSAGE })
    const parsed = parseExportQuery(params, resolved)
    if ('error' in parsed) return HttpAnswer.apiError(400, parsed.error)
    const query = parsed.query
    const result = exportRecords(site, query)
    let head: string
    let records: Buffer[]
    if (query.paging === undefined) {
      head = '{"records":['
      records = result.pick(0, Infinity)
    } else {
      const { page, limit } = query.paging
      const pageTotal = result.total === 0 ? resolved.emptyPageTotal : Math.ceil(result.total / limit)
      head = `{"page":${page},"pageTotal":${pageTotal},"pageSize":${limit},"recordsTotal":${result.total},"records":[`
      records = result.pick((page - 1) * limit, limit)
      if (page < pageTotal && faults.nextShift()) shiftWindow(site, query)
    }
    const parts: Buffer[] = [Buffer.from(head)]
    for (let i = 0; i < records.length; i++) {
      if (i > 0) parts.push(COMMA)
      parts.push(records[i] as Buffer)
    }
    parts.push(TAIL)
    let length = 0
    for (const part of parts) length += part.length
    // The parts are slices of cached day text: written as they are, not copied into one body.
    return { parts, length, truncate: fault.truncate }
  }

  async function handleApi(req: http.IncomingMessage, res: http.ServerResponse, url: URL, ip: string): Promise<void> {
    const path = url.pathname
    const exportMatch = EXPORT_PATH.exec(path)
    const nodeMatch = exportMatch ? null : NODE_ID_PATH.exec(path)
    const writeMatch = exportMatch || nodeMatch ? null : WRITE_PATH.exec(path)
    const leadRoute = exportMatch || nodeMatch || writeMatch ? undefined : leads.route(path)
    const endpoint: ApiEndpoint = exportMatch
      ? 'export'
      : nodeMatch
        ? 'getNodeId'
        : writeMatch
          ? (writeMatch[1] as WriteKind)
          : (leadRoute?.endpoint ?? 'unknown')
    const arrivedAt = Date.now()
    stats.arrived(endpoint, ip, arrivedAt)

    const send = (answer: HttpAnswer): void => {
      stats.answered(answer.status)
      res.writeHead(answer.status, { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) })
      res.end(answer.body)
    }

    // A 200 body as parts (slices of cached text), or cut mid-JSON when the fault says so.
    const sendParts = (result: { parts: Buffer[]; length: number; truncate: boolean }): void => {
      if (result.truncate) {
        // Cut the body mid-JSON but end the answer cleanly (no content-length), so the
        // client gets a 200 whose body does not parse.
        stats.fault('truncated')
        stats.answered(200)
        res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8' })
        const body = Buffer.concat(result.parts, result.length)
        res.end(body.subarray(0, Math.max(1, Math.floor(body.length / 2))))
        return
      }
      stats.answered(200)
      res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'content-length': String(result.length) })
      res.cork()
      for (const part of result.parts) res.write(part)
      res.end()
    }

    // A request starts when the limiter booked it to, and is counted at that time: counted by the
    // clock after the wait, a burst's first five could land a few ms late (the event loop is busy
    // with the burst), and the sixth, booked a second after them, would share their second.
    let startAt = arrivedAt
    if (limiter !== undefined) {
      const decision = limiter.admit(ip, arrivedAt)
      if (decision.kind === 'rejected') {
        stats.rejected(ip)
        send(tooManyRequests())
        return
      }
      if (decision.kind === 'queued') {
        stats.queued()
        startAt = arrivedAt + decision.delayMs
        await sleep(decision.delayMs)
      }
    }
    stats.started(ip, startAt)
    await sleep(faults.nextLatencyMs())
    if (closed) return

    const isGet = req.method === 'GET' && (exportMatch !== null || nodeMatch !== null || leadRoute !== undefined)
    const fault = isGet ? faults.next() : NO_FAULT
    if (fault.reset) {
      stats.fault('reset')
      req.socket.destroy()
      return
    }
    if (fault.serverError !== undefined) {
      stats.fault('serverError')
      const code = fault.serverError
      send(
        code === 500
          ? HttpAnswer.json(500, { message: 'Internal Server Error' })
          : new HttpAnswer(
              code,
              `<html><body><h1>${code} ${code === 502 ? 'Bad Gateway' : 'Service Unavailable'}</h1></body></html>`,
              { 'content-type': 'text/html' },
            ),
      )
      return
    }
    if (fault.burst429) {
      stats.fault('burst429')
      send(tooManyRequests())
      return
    }
    if (fault.slowMs > 0) {
      stats.fault('slow')
      await sleep(fault.slowMs)
      if (closed || res.destroyed) return
    }

    if (leadRoute !== undefined) {
      if (req.method !== 'GET') return send(HttpAnswer.json(405, { message: 'Method Not Allowed' }))
      await leads.prepare(leadRoute, url.searchParams, clockMs)
      if (closed || res.destroyed) return
      const answer = leads.answer(leadRoute, url.searchParams, clockMs)
      if ('json' in answer) return send(HttpAnswer.json(answer.status, answer.json))
      return sendParts({ parts: [answer.body], length: answer.body.length, truncate: fault.truncate })
    }
    if (exportMatch !== null) {
      if (req.method !== 'GET') return send(HttpAnswer.json(405, { message: 'Method Not Allowed' }))
      await buildExportInTurns(Number(exportMatch[1]), url.searchParams)
      if (closed || res.destroyed) return
      const result = handleExport(Number(exportMatch[1]), url.searchParams, fault)
      if (result instanceof HttpAnswer) return send(result)
      return sendParts(result)
    }
    if (nodeMatch !== null) {
      const site = sites.get(Number(nodeMatch[1]))
      if (site === undefined) return send(HttpAnswer.json(403, { message: FORBIDDEN_MESSAGE }))
      return send(HttpAnswer.json(200, { nodeId: site.config.nodeId }))
    }
    if (writeMatch !== null) {
      if (req.method !== 'POST') return send(HttpAnswer.json(405, { message: 'Method Not Allowed' }))
      const site = sites.get(Number(req.headers['siteid']))
      if (site === undefined || req.headers['access-token'] !== site.config.token)
        return send(HttpAnswer.json(403, { message: FORBIDDEN_MESSAGE }))
      let bodyText: string
      try {
        bodyText = await readBody(req)
      } catch {
        return send(HttpAnswer.apiError(400, { errorCode: 2000, errorMessage: 'Тело запроса слишком велико' }))
      }
      const outcome = applyWrite(writeMatch[1] as WriteKind, bodyText, site, toWallMs(clockMs, timeZone))
      if ('error' in outcome) return send(HttpAnswer.apiError(400, outcome.error))
      return send(HttpAnswer.json(200, { data: { orders: outcome.results } }))
    }
    send(HttpAnswer.json(404, { message: 'Not Found' }))
  }

  async function handleAdmin(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const send = (status: number, value: unknown): void => {
      const body = JSON.stringify(value)
      res.writeHead(status, {
        'content-type': 'application/json;charset=UTF-8',
        'content-length': String(Buffer.byteLength(body)),
      })
      res.end(body)
    }
    const readJson = async (): Promise<Record<string, unknown>> => {
      const text = await readBody(req)
      const value: unknown = text.trim() === '' ? {} : JSON.parse(text)
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new TypeError('expected a JSON object')
      return value as Record<string, unknown>
    }
    const route = `${req.method} ${url.pathname.replace(/\/$/, '')}`
    try {
      switch (route) {
        case 'GET /_sim/stats':
          return send(200, stats.snapshot())
        case 'GET /_sim/clock':
          return send(200, { now: formatInstant(clockMs, timeZone), epochMs: clockMs })
        case 'POST /_sim/clock': {
          const body = await readJson()
          if (typeof body['now'] !== 'string') return send(400, { message: 'expected {"now": "<ISO 8601>"}' })
          api.setClock(body['now'])
          return send(200, { now: formatInstant(clockMs, timeZone), epochMs: clockMs })
        }
        case 'GET /_sim/faults':
          return send(200, faults.current)
        case 'POST /_sim/faults': {
          api.setFaults(await readJson())
          return send(200, faults.current)
        }
        case 'POST /_sim/reset':
          reset()
          return send(200, { ok: true })
        default:
          return send(404, { message: `No admin route ${route}; see simulator/README.md` })
      }
    } catch (error) {
      return send(400, { message: error instanceof Error ? error.message : String(error) })
    }
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const ip = req.socket.remoteAddress ?? 'unknown'
    const adApi = adApis.find((candidate) => candidate.owns(url.pathname))
    const handled = adApi
      ? adApi.handle(req, res, url, ip)
      : url.pathname.startsWith('/_sim/')
        ? handleAdmin(req, res, url)
        : handleApi(req, res, url, ip)
    handled.catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy()
        return
      }
      const body = JSON.stringify({
        message: `simulator error: ${error instanceof Error ? error.message : String(error)}`,
      })
      res.writeHead(500, { 'content-type': 'application/json;charset=UTF-8' })
      res.end(body)
    })
  })
  server.keepAliveTimeout = 5_000
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(resolved.port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port

  const api: RunningSimulator = {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      closed = true
      for (const adApi of adApis) adApi.close()
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      })
    },
    stats: () => stats.snapshot(),
    now: () => formatInstant(clockMs, timeZone),
    setClock: (now) => {
      clockMs = parseInstant(now, timeZone)
    },
    setFaults: (config) => {
      faults.replace(resolveFaults(config) satisfies ResolvedFaults)
    },
    reset,
    site: (siteId) => {
      const site = sites.get(siteId)
      if (site === undefined)
        throw new RangeError(`No site ${siteId}; the simulator has ${[...sites.keys()].join(', ')}`)
      return site
    },
    yandexDirect,
    vkAds,
    expectedDeals: (siteId, fromDay, toDay, expectedOptions) =>
      collectDeals(api.site(siteId), fromDay, toDay, clockMs, expectedOptions),
    expectedCalls: (siteId, fromDay, toDay, options) => leads.expectedCalls(siteId, fromDay, toDay, clockMs, options),
    expectedRequests: (siteId, fromDay, toDay, options) =>
      leads.expectedRequests(siteId, fromDay, toDay, clockMs, options),
    removeLead: (siteId, journal, id) => leads.removeLead(siteId, journal, id),
  }
  return api
}
