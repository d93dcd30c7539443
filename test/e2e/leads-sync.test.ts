/**
 * The calls and requests journals over real HTTP, through the real command line: a backfill and
 * the nightly syncs after it hold exactly what the simulator's journals serve, field by field;
 * month-first request dates; a lead changed or deleted after the look-back is caught by the deep
 * refresh a week after its day was read, and not before; the token nowhere.
 *
 * Time. The nightly's days depend on its clock (today, the look-back) and on the ledger's ages,
 * which come from the warehouse's clock (PostgreSQL's now()). So the runs happen "k days after"
 * T0 = noon of the real day, Moscow: the simulator's clock is set to T0 + k days, and the CLI's
 * (a child process) to the same instant by a preload that shifts its `Date` (PGlite in the child
 * follows it; PostgreSQL does not, and its stamps of the real instant stay within 12 hours of T0,
 * inside the day of margin each step below has).
 *
 * Expectations. A model of the warehouse is kept beside it: each run's log says which days of
 * each journal it read (one line per committed read), and those days are given what the simulator
 * serves at the run's clock; a lead the warehouse held for such a day that is no longer served is
 * marked removed. After every run, every call and request, its tags, its latest raw version and
 * the ledger must equal the model exactly, and the run's summary line its counts.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { DateTime } from 'luxon'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { addDays, eachDay } from '../../pipelines/core/day.ts'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import {
  startSimulator,
  type CallRecord,
  type LeadTag,
  type RequestRecord,
  type RunningSimulator,
  type SimulatorStats,
} from '../../simulator/index.ts'
import {
  E2E_TOKEN,
  OutputLog,
  runE2eCli,
  scratchDir,
  tokenLeaksInWarehouse,
  writeConfigFile,
} from '../helpers/e2e-harness.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE_ID = 944
const ZONE = 'Europe/Moscow'
const T0 = DateTime.now().setZone(ZONE).set({ hour: 12, minute: 0, second: 0, millisecond: 0 })
const TODAY = T0.toISODate() as string
/** 50 days, read by the backfill; also the site's startDate, so a nightly plans nothing before it. */
const FROM = addDays(TODAY, -49)
/** The look-back of the site (the default): a nightly k days after T0 re-reads TODAY + k − 29 .. TODAY + k. */
const LOOKBACK_DAYS = 30
/** Days all ≤ 12, so that a reader swapping day and month would ask for other, valid days. */
const FEBRUARY = { from: '2026-02-01', to: '2026-02-12', probe: '2026-02-10', swapped: '2026-10-02' } as const
/**
 * Days read only by the backfill until the deep refresh: before the look-back of every nightly
 * here (the first, 2 days after T0, re-reads from TODAY − 27).
 */
const OLD_DAYS_LAST = addDays(TODAY, -28)
/** Few deals and leads a day: the requests journal costs a request a day whatever its size. */
const SIMULATOR = {
  seed: 18,
  timeZone: ZONE,
  sites: [{ siteId: SITE_ID, token: E2E_TOKEN, dealsPerDay: 3, callsPerDay: 30, requestsPerDay: 10 }],
}
const CLI_TIMEOUT_MS = 180_000
const TEST_TIMEOUT_MS = 300_000

/**
 * Preloaded into the CLI's process (NODE_OPTIONS=--import): its clock runs E2E_CLOCK_OFFSET_MS
 * ahead of the machine's, `Date.now()` and `new Date()` alike, so the real command runs on a
 * later night.
 */
const CLOCK_PRELOAD = `
const offsetMs = Number(process.env.E2E_CLOCK_OFFSET_MS ?? '0')
const RealDate = Date
function ShiftedDate(...args) {
  if (new.target === undefined) return new RealDate(RealDate.now() + offsetMs).toString()
  return args.length === 0 ? new RealDate(RealDate.now() + offsetMs) : new RealDate(...args)
}
ShiftedDate.prototype = RealDate.prototype
ShiftedDate.now = () => RealDate.now() + offsetMs
ShiftedDate.parse = RealDate.parse
ShiftedDate.UTC = RealDate.UTC
globalThis.Date = ShiftedDate
`

type Journal = 'calls' | 'requests'
type LeadRecord = CallRecord | RequestRecord
type Row = Record<string, string | boolean | null>

/** 'YYYY-MM-DD' of a journal's 'dd/mm/yyyy hh:mm:ss'. */
function isoDay(text: string): string {
  const [day, month, year] = text.slice(0, 10).split('/')
  return `${year}-${month}-${day}`
}

function idOf(journal: Journal, record: LeadRecord): number {
  return journal === 'calls' ? (record as CallRecord).callId : (record as RequestRecord).requestId
}

function dayOf(journal: Journal, record: LeadRecord): string {
  return isoDay(journal === 'calls' ? (record as CallRecord).date : (record as RequestRecord).dateStr)
}

const text = (value: number | null | undefined): string | null =>
  value === null || value === undefined ? null : String(value)

/** The calltouch.calls row a call makes, every column but the contact key and the load times. */
function callRow(call: CallRecord, removed: boolean): Row {
  return {
    call_id: String(call.callId),
    call_day: isoDay(call.date),
    call_time: String(call.timestamp),
    call_local_time: call.date,
    duration_seconds: String(call.duration),
    waiting_seconds: String(call.waitingConnect),
    successful: call.successful,
    unique_call: call.uniqueCall,
    target_call: call.targetCall,
    uniq_target_call: call.uniqTargetCall,
    callback_call: call.callbackCall,
    call_phase: null,
    status_details: null,
    attribution: String(call.attribution),
    source: call.source,
    medium: call.medium,
    keyword: call.keyword,
    utm_source: call.utmSource,
    utm_medium: call.utmMedium,
    utm_campaign: call.utmCampaign,
    utm_content: call.utmContent,
    utm_term: call.utmTerm,
    city: call.city,
    url: call.url,
    ref: null,
    session_id: String(call.sessionId),
    yandex_direct_campaign_id: text(call.yandexDirect?.campaignId),
    yandex_direct_ad_group_id: text(call.yandexDirect?.adGroupId),
    yandex_direct_ad_id: text(call.yandexDirect?.adId),
    hostname: call.hostname,
    call_url: null,
    caller_number: call.callerNumber,
    phone_number: call.phoneNumber,
    redirect_number: null,
    removed,
  }
}

const CALL_ROWS = `
  select call_id::text as call_id, call_day::text as call_day, extract(epoch from call_time)::bigint::text as call_time,
    to_char(call_local_time, 'DD/MM/YYYY HH24:MI:SS') as call_local_time,
    duration_seconds::text as duration_seconds, waiting_seconds::text as waiting_seconds,
    successful, unique_call, target_call, uniq_target_call, callback_call, call_phase, status_details,
    attribution::text as attribution, source, medium, keyword, utm_source, utm_medium, utm_campaign, utm_content, utm_term,
    city, url, ref, session_id::text as session_id, yandex_direct_campaign_id::text as yandex_direct_campaign_id,
    yandex_direct_ad_group_id::text as yandex_direct_ad_group_id, yandex_direct_ad_id::text as yandex_direct_ad_id,
    hostname, call_url, caller_number, phone_number, redirect_number, removed_from_source_at is not null as removed
  from calltouch.calls c where c.site_id = $1 order by c.call_id`

/** The calltouch.requests row a request makes, every column but the contact key and the load times. */
function requestRow(request: RequestRecord, removed: boolean): Row {
  const { session, client } = request
  return {
    request_id: String(request.requestId),
    request_number: request.requestNumber,
    request_time: String(request.date),
    request_local_time: request.dateStr,
    request_day: isoDay(request.dateStr),
    subject: request.subject,
    manager: request.manager,
    unique_request: request.uniqueRequest,
    target_request: request.targetRequest,
    uniq_target_request: request.uniqTargetRequest,
    session_local_time: session.sessionDate,
    attribution: null,
    source: session.source,
    medium: session.medium,
    keyword: session.keywords,
    utm_source: session.utmSource,
    utm_medium: session.utmMedium,
    utm_campaign: session.utmCampaign,
    utm_content: session.utmContent,
    utm_term: session.utmTerm,
    city: session.city,
    url: session.url,
    ref: null,
    session_id: String(session.sessionId),
    yandex_direct_campaign_id: text(request.yandexDirect?.campaignId),
    yandex_direct_ad_group_id: text(request.yandexDirect?.adGroupId),
    yandex_direct_ad_id: text(request.yandexDirect?.adId),
    client_id: String(client.clientId),
    client_name: client.fio,
    client_phones: client.phones.length === 0 ? null : client.phones.map((phone) => phone.phoneNumber).join(','),
    client_emails:
      client.contacts.length === 0 ? null : client.contacts.map((contact) => contact.contactValue).join(','),
    removed,
  }
}

const REQUEST_ROWS = `
  select request_id::text as request_id, request_number,
    (extract(epoch from request_time) * 1000)::bigint::text as request_time,
    to_char(request_local_time, 'DD/MM/YYYY HH24:MI:SS') as request_local_time, request_day::text as request_day,
    subject, manager, unique_request, target_request, uniq_target_request,
    to_char(session_local_time, 'DD/MM/YYYY HH24:MI:SS') as session_local_time, attribution::text as attribution,
    source, medium, keyword, utm_source, utm_medium, utm_campaign, utm_content, utm_term, city, url, ref,
    session_id::text as session_id, yandex_direct_campaign_id::text as yandex_direct_campaign_id,
    yandex_direct_ad_group_id::text as yandex_direct_ad_group_id, yandex_direct_ad_id::text as yandex_direct_ad_id,
    client_id::text as client_id, client_name, client_phones, client_emails,
    removed_from_source_at is not null as removed
  from calltouch.requests r where r.site_id = $1 order by r.request_id`

const TABLES = {
  calls: { rows: CALL_ROWS, tags: 'call_tags', key: 'call_id', raw: 'raw.calltouch_calls' },
  requests: { rows: REQUEST_ROWS, tags: 'request_tags', key: 'request_id', raw: 'raw.calltouch_requests' },
} as const

function rowOf(journal: Journal, record: LeadRecord, removed: boolean): Row {
  return journal === 'calls' ? callRow(record as CallRecord, removed) : requestRow(record as RequestRecord, removed)
}

/** 'id|category|type|tag' of each tag of a lead. */
function tagsOf(journal: Journal, record: LeadRecord): string[] {
  const groups: LeadTag[] =
    (journal === 'calls' ? (record as CallRecord).callTags : (record as RequestRecord).RequestTags) ?? []
  const id = idOf(journal, record)
  return groups.flatMap((group) => group.names.map((name) => `${id}|${group.category}|${group.type}|${name}`))
}

interface Held {
  record: LeadRecord
  day: string
  removed: boolean
}

/** What the warehouse must hold: each lead's last loaded version, and whether its day's last read no longer had it. */
class WarehouseModel {
  readonly held: Record<Journal, Map<number, Held>> = { calls: new Map(), requests: new Map() }
  /** Days ever read, and the versions landed in raw, per journal. */
  readonly daysRead: Record<Journal, Set<string>> = { calls: new Set(), requests: new Set() }
  readonly versions: Record<Journal, number> = { calls: 0, requests: 0 }

  /** A complete read of `days` that served `served`; what the loader should count. */
  load(journal: Journal, days: ReadonlySet<string>, served: readonly LeadRecord[]) {
    const held = this.held[journal]
    const returned = new Set<number>()
    let changed = 0
    for (const record of served) {
      const id = idOf(journal, record)
      returned.add(id)
      const before = held.get(id)
      if (before === undefined || JSON.stringify(before.record) !== JSON.stringify(record)) changed += 1
      held.set(id, { record, day: dayOf(journal, record), removed: false })
    }
    let removed = 0
    for (const [id, lead] of held) {
      if (!days.has(lead.day) || lead.removed || returned.has(id)) continue
      lead.removed = true
      removed += 1
    }
    for (const day of days) this.daysRead[journal].add(day)
    this.versions[journal] += changed
    return { seen: served.length, changed, removed }
  }

  rows(journal: Journal): Row[] {
    return [...this.held[journal].entries()]
      .sort(([a], [b]) => a - b)
      .map(([, lead]) => rowOf(journal, lead.record, lead.removed))
  }

  tags(journal: Journal): string[] {
    return [...this.held[journal].values()].flatMap((lead) => tagsOf(journal, lead.record)).sort()
  }
}

/** Days of each journal a run read, from its log lines of committed reads ("site N calls A..B: n lead(s), …"). */
function daysReadIn(stderr: string): Record<Journal, Set<string>> {
  const days: Record<Journal, Set<string>> = { calls: new Set(), requests: new Set() }
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue
    const entry = JSON.parse(line) as {
      siteId?: number
      journal?: string
      firstDay?: string
      lastDay?: string
      seen?: number
    }
    if (entry.journal !== 'calls' && entry.journal !== 'requests') continue
    if (entry.siteId !== SITE_ID || typeof entry.seen !== 'number') continue
    for (const day of eachDay(entry.firstDay as string, entry.lastDay as string)) days[entry.journal].add(day)
  }
  return days
}

function leadRequests(stats: SimulatorStats): number {
  return (stats.requests.byEndpoint.calls ?? 0) + (stats.requests.byEndpoint.requests ?? 0)
}

/** The simulator's records of `journal` on `days`, at its clock. */
function served(sim: RunningSimulator, journal: Journal, days: ReadonlySet<string>): LeadRecord[] {
  if (days.size === 0) return []
  const sorted = [...days].sort()
  const first = sorted[0] as string
  const last = sorted.at(-1) as string
  const records: LeadRecord[] =
    journal === 'calls' ? sim.expectedCalls(SITE_ID, first, last) : sim.expectedRequests(SITE_ID, first, last)
  return records.filter((record) => days.has(dayOf(journal, record)))
}

interface RunOutcome {
  readonly stdout: string
  readonly days: Record<Journal, Set<string>>
  /** The leads line the run must print, from the model and the simulator's request count. */
  readonly leadsLine: string
}

describeEachEngine('calls and requests over HTTP: a backfill, nightly syncs and the deep refresh', (engine) => {
  const log = new OutputLog()
  const model = new WarehouseModel()
  let sim: RunningSimulator
  let tw: TestWarehouse
  let config: string
  let preload: string

  beforeAll(async () => {
    ;[sim, tw] = await Promise.all([
      startSimulator({ ...SIMULATOR, now: T0.toISO() as string }),
      createTestWarehouse(engine),
    ])
    const dir = scratchDir('leads')
    preload = path.join(dir, 'shift-clock.mjs')
    writeFileSync(preload, CLOCK_PRELOAD)
    config = writeConfigFile(dir, {
      baseUrl: sim.url,
      sites: [{ id: SITE_ID, tokenEnv: 'CT_TOKEN', startDate: FROM }],
      lookbackDays: LOOKBACK_DAYS,
      refreshAfterDays: 7,
      refreshMaxAgeDays: 180,
    })
  })
  afterAll(async () => {
    await Promise.all([sim?.close(), tw?.destroy()])
  })

  /** Runs the CLI `k` days after T0 (the simulator's clock too), and applies what it read to the model. */
  const runAt = async (k: number, args: readonly string[]): Promise<RunOutcome> => {
    const at = T0.plus({ days: k })
    sim.setClock(at.toISO() as string)
    const before = leadRequests(sim.stats())
    await tw.release()
    const result = await runE2eCli(
      log,
      [...args, '--config', config],
      {
        ...tw.env,
        NODE_OPTIONS: `--import=${pathToFileURL(preload).href}`,
        E2E_CLOCK_OFFSET_MS: String(at.toMillis() - Date.now()),
      },
      CLI_TIMEOUT_MS,
    )
    await tw.reopen()
    expect(result.exitCode, result.stderr.slice(-2000)).toBe(0)
    const days = daysReadIn(result.stderr)
    const counts = { seen: 0, changed: 0, removed: 0 }
    for (const journal of ['calls', 'requests'] as const) {
      const loaded = model.load(journal, days[journal], served(sim, journal, days[journal]))
      counts.seen += loaded.seen
      counts.changed += loaded.changed
      counts.removed += loaded.removed
    }
    const requests = leadRequests(sim.stats()) - before
    const dayCount = days.calls.size + days.requests.size
    return {
      stdout: result.stdout,
      days,
      leadsLine: `${args[0]} leads: 2 stream(s), ${dayCount} day(s), ${requests} request(s), 0 retries, ${counts.seen} lead(s) seen, ${counts.changed} changed, 0 rejected, ${counts.removed} removed`,
    }
  }

  /** Every call and request of the site, their tags, latest raw versions and ledger days, against the model. */
  const expectWarehouseToMatchModel = async (): Promise<void> => {
    const db = tw.warehouse.db
    for (const journal of ['calls', 'requests'] as const) {
      const { rows, tags, key, raw } = TABLES[journal]
      expect(await executeSql<Row>(db, rows, [SITE_ID])).toEqual(model.rows(journal))
      const stored = await executeSql<{ tag: string }>(
        db,
        `select ${key}::text || '|' || category || '|' || type || '|' || tag as tag from calltouch.${tags}
         where site_id = $1`,
        [SITE_ID],
      )
      expect(stored.map((row) => row.tag).sort()).toEqual(model.tags(journal))
      const latest = await executeSql<{ id: string; payload: string; versions: number }>(
        db,
        `select distinct on (${key}) ${key}::text as id, payload::text as payload,
           (count(*) over (partition by ${key}))::integer as versions
         from ${raw} where site_id = $1 order by ${key}, raw_id desc`,
        [SITE_ID],
      )
      const held = model.held[journal]
      expect(latest.map((row) => [Number(row.id), JSON.parse(row.payload) as unknown])).toEqual(
        [...held.entries()].sort(([a], [b]) => a - b).map(([id, lead]) => [id, lead.record]),
      )
      expect(latest.reduce((sum, row) => sum + row.versions, 0)).toBe(model.versions[journal])
      const ledger = await executeSql<{ day: string; status: string; records: number }>(
        db,
        `select day::text as day, status, records from etl.ledger where source = $1 and account = $2 order by day`,
        [`calltouch-${journal}`, String(SITE_ID)],
      )
      const countOn = (day: string): number =>
        [...held.values()].filter((lead) => lead.day === day && !lead.removed).length
      expect(ledger).toEqual(
        [...model.daysRead[journal]].sort().map((day) => ({ day, status: 'ok', records: countOn(day) })),
      )
    }
    const [rejected] = await executeSql<{ count: number }>(
      db,
      `select count(*)::integer as count from etl.rejected_records where source <> 'calltouch-deals'`,
    )
    expect(rejected?.count).toBe(0)
  }

  const DEALS_LINE = (command: string, days: number): RegExp =>
    new RegExp(
      `^${command}: 1 site\\(s\\), ${days} day\\(s\\), \\d+ request\\(s\\), 0 retries, \\d+ record\\(s\\) seen, \\d+ changed, 0 rejected, \\d+\\.\\d s$`,
    )

  it(
    'a backfill holds every call and request the journals serve, with their fields and tags',
    async () => {
      const run = await runAt(0, ['backfill', '--from', FROM, '--to', TODAY])
      const [dealsLine, leadsLine, rest] = run.stdout.split('\n')
      expect(dealsLine).toMatch(DEALS_LINE('backfill', 50))
      expect(leadsLine).toBe(run.leadsLine)
      expect(rest).toBe('')
      expect(run.days.calls).toEqual(new Set(eachDay(FROM, TODAY)))
      expect(run.days.requests).toEqual(new Set(eachDay(FROM, TODAY)))
      // Not a vacuous match: the journals held leads of every kind the columns carry.
      const calls = sim.expectedCalls(SITE_ID, FROM, TODAY)
      const requests = sim.expectedRequests(SITE_ID, FROM, TODAY)
      expect(model.held.calls.size).toBe(calls.length)
      expect(model.held.requests.size).toBe(requests.length)
      expect(calls.length).toBeGreaterThan(1000)
      expect(requests.length).toBeGreaterThan(300)
      expect(calls.some((call) => call.yandexDirect !== null && call.callTags?.length === 1)).toBe(true)
      expect(calls.some((call) => call.targetCall) && calls.some((call) => !call.targetCall)).toBe(true)
      expect(requests.some((request) => request.client.contacts.length > 0 && request.yandexDirect !== null)).toBe(true)
      await expectWarehouseToMatchModel()
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'reads requests with month-first dates: those of 10 February land on 10 February, none on 2 October',
    async () => {
      const run = await runAt(0, ['backfill', '--from', FEBRUARY.from, '--to', FEBRUARY.to])
      expect(run.stdout.split('\n')[1]).toBe(run.leadsLine)
      expect(run.days.requests).toEqual(new Set(eachDay(FEBRUARY.from, FEBRUARY.to)))
      const february = sim.expectedRequests(SITE_ID, FEBRUARY.probe, FEBRUARY.probe)
      expect(february.length).toBeGreaterThan(3)
      expect(february.every((request) => request.dateStr.startsWith('10/02/2026 '))).toBe(true)
      // 2 October has requests of its own, which a day-first query of 10/02/2026 would have fetched.
      expect(sim.expectedRequests(SITE_ID, FEBRUARY.swapped, FEBRUARY.swapped).length).toBeGreaterThan(3)
      const onDay = async (day: string): Promise<string[]> =>
        (
          await executeSql<{ request_id: string }>(
            tw.warehouse.db,
            `select r.request_id::text as request_id from calltouch.requests r
             where r.site_id = $1 and r.request_day = $2::date order by r.request_id`,
            [SITE_ID, day],
          )
        ).map((row) => row.request_id)
      expect(await onDay(FEBRUARY.probe)).toEqual(
        february.map((request) => String(request.requestId)).sort((a, b) => Number(a) - Number(b)),
      )
      expect(await onDay(FEBRUARY.swapped)).toEqual([])
      await expectWarehouseToMatchModel()
    },
    TEST_TIMEOUT_MS,
  )

  let vanishedOld: number
  it(
    'a nightly two days later re-reads the look-back only, and marks removed a call and a request deleted since',
    async () => {
      // Deleted in Calltouch after the backfill: one of each, of a day inside the look-back.
      const day = addDays(TODAY, -3)
      const call = [...model.held.calls.values()].find((lead) => lead.day === day)?.record as CallRecord
      const request = [...model.held.requests.values()].find((lead) => lead.day === day)?.record as RequestRecord
      sim.removeLead(SITE_ID, 'calls', call.callId)
      sim.removeLead(SITE_ID, 'requests', request.requestId)
      // And a call of a day before the look-back: only the deep refresh can see it gone.
      vanishedOld = (
        [...model.held.calls.values()].find((lead) => lead.day === addDays(TODAY, -35))?.record as CallRecord
      ).callId
      sim.removeLead(SITE_ID, 'calls', vanishedOld)

      const run = await runAt(2, ['sync'])
      const [dealsLine, leadsLine] = run.stdout.split('\n')
      const lookback = new Set(eachDay(addDays(TODAY, 2 - (LOOKBACK_DAYS - 1)), addDays(TODAY, 2)))
      expect(dealsLine).toMatch(DEALS_LINE('sync', LOOKBACK_DAYS))
      expect(leadsLine).toBe(run.leadsLine)
      expect(run.days.calls).toEqual(lookback)
      expect(run.days.requests).toEqual(lookback)
      expect(leadsLine).toMatch(/, 2 removed$/)
      expect(model.held.calls.get(call.callId)?.removed).toBe(true)
      expect(model.held.requests.get(request.requestId)?.removed).toBe(true)
      expect(model.held.calls.get(vanishedOld)?.removed).toBe(false)
      await expectWarehouseToMatchModel()
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'a lead changed after the look-back is missed by the nightly 6 days later and caught by the deep refresh 8 days later',
    async () => {
      // Leads of the old days whose row or tags differ between what the backfill loaded and what
      // the journals serve 6 days after T0 (tags added weeks after the lead, in the simulator).
      const oldDays = new Set(eachDay(FROM, OLD_DAYS_LAST))
      const visible = (journal: Journal, record: LeadRecord): string =>
        JSON.stringify({ row: rowOf(journal, record, false), tags: tagsOf(journal, record).sort() })
      sim.setClock(T0.plus({ days: 6 }).toISO() as string)
      const changed: { journal: Journal; id: number; loaded: string }[] = []
      for (const journal of ['calls', 'requests'] as const) {
        for (const record of served(sim, journal, oldDays)) {
          const loaded = visible(journal, model.held[journal].get(idOf(journal, record))?.record as LeadRecord)
          if (loaded !== visible(journal, record)) changed.push({ journal, id: idOf(journal, record), loaded })
        }
      }
      expect(changed.length).toBeGreaterThan(0)
      /** Each changed lead's row and tags as the warehouse holds them, and as the journals serve them now. */
      const compare = async (): Promise<{ stored: string; served: string; loaded: string }[]> => {
        const out: { stored: string; served: string; loaded: string }[] = []
        for (const journal of ['calls', 'requests'] as const) {
          const { rows, tags, key } = TABLES[journal]
          const storedRows = new Map(
            (await executeSql<Row>(tw.warehouse.db, rows, [SITE_ID])).map((row) => [Number(row[key]), row]),
          )
          const storedTags = await executeSql<{ id: string; tag: string }>(
            tw.warehouse.db,
            `select ${key}::text as id, ${key}::text || '|' || category || '|' || type || '|' || tag as tag
             from calltouch.${tags} where site_id = $1`,
            [SITE_ID],
          )
          const now = new Map(served(sim, journal, oldDays).map((record) => [idOf(journal, record), record]))
          for (const lead of changed.filter((candidate) => candidate.journal === journal)) {
            const tagsOfLead = storedTags.filter((row) => Number(row.id) === lead.id).map((row) => row.tag)
            out.push({
              stored: JSON.stringify({ row: storedRows.get(lead.id), tags: tagsOfLead.sort() }),
              served: visible(journal, now.get(lead.id) as LeadRecord),
              loaded: lead.loaded,
            })
          }
        }
        return out
      }
      const missed = await runAt(6, ['sync'])
      expect(missed.stdout.split('\n')[1]).toBe(missed.leadsLine)
      const lookback6 = eachDay(addDays(TODAY, 6 - (LOOKBACK_DAYS - 1)), addDays(TODAY, 6))
      expect(missed.days.calls).toEqual(new Set(lookback6))
      expect(missed.days.requests).toEqual(new Set(lookback6))
      await expectWarehouseToMatchModel()
      // Each still as the backfill loaded it, none as the journals serve it.
      for (const lead of await compare()) {
        expect(lead.stored).toBe(lead.loaded)
        expect(lead.stored).not.toBe(lead.served)
      }
      expect(model.held.calls.get(vanishedOld)?.removed).toBe(false)

      const caught = await runAt(8, ['sync'])
      expect(caught.stdout.split('\n')[1]).toBe(caught.leadsLine)
      // The deep refresh: every old day, last read by the backfill 8 days before; the look-back as
      // always. Days re-read 6 days before are re-read too on PostgreSQL, whose ledger stamps the
      // real instant (see the head of this file), and not on PGlite.
      const lookback8 = eachDay(addDays(TODAY, 8 - (LOOKBACK_DAYS - 1)), addDays(TODAY, 8))
      for (const journal of ['calls', 'requests'] as const) {
        const days = caught.days[journal]
        expect([...eachDay(FROM, OLD_DAYS_LAST), ...lookback8].filter((day) => !days.has(day))).toEqual([])
        expect([...days].filter((day) => day < FROM || day > addDays(TODAY, 8))).toEqual([])
      }
      await expectWarehouseToMatchModel()
      for (const lead of await compare()) expect(lead.stored).toBe(lead.served)
      expect(model.held.calls.get(vanishedOld)?.removed).toBe(true)
      expect(caught.stdout.split('\n')[1]).toMatch(/, 1 removed$/)
    },
    TEST_TIMEOUT_MS,
  )

  it('never lets the token into an output, a log line or a table', async () => {
    expect(log.texts.length).toBeGreaterThan(0)
    expect(log.leaks()).toEqual([])
    expect(await tokenLeaksInWarehouse(tw.warehouse.db)).toEqual([])
  })
})
