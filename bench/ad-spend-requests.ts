/**
 * Issue 16, ad spend requests: how many requests the ad spend sources make for one Yandex Direct
 * advertiser and one VK Ads account of 300 campaigns each, for a first 2-year backfill and for the
 * nightly sync of the next day, against the least the APIs allow for the same data, with the
 * simulator's counts of the most requests in any 10 s (Direct, per login) and any second (VK).
 *
 * The product's own functions do the work: syncYandexDirectAccount and syncVkAdsAccount into a real
 * warehouse (PGlite in a temporary directory, or a new database on TEST_DATABASE_URL's server),
 * with DEFAULT_AD_ACCOUNT_SETTINGS, against the simulator in this process. History starts in 2023;
 * the backfill asks for the 730 days ending at the simulator's today, then the clock moves a day
 * and a sync runs. Direct runs twice, each advertiser with a token of its own: as the simulator
 * answers by default (`auto` reports of ≤ 100,000 rows come back online at once) and with every
 * report built offline (`forceOffline`: queued, then polled; retryIn 1 s, 100 ms queued, 300 ms
 * building, the simulator's defaults), since Direct does not publish when it goes offline.
 *
 * Requests are counted three ways: the run's result (AdAccountRunResult.requests), the simulator's
 * stats, and a fetch wrapper that stamps each request as it leaves (its kind, and the most in any
 * sliding 1 s and 10 s). The least is derived from the documented limits (see the printed notes);
 * for Direct it is also measured: one report of the whole range through the product's own
 * YandexDirectClient.fetchSpendReport.
 *
 *   npx tsx bench/ad-spend-requests.ts [--engine pglite|postgres] [--campaigns 300] [--days 730]
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { DEFAULT_AD_ACCOUNT_SETTINGS, type AdAccountRunResult } from '../pipelines/core/ad-account.ts'
import type { WarehouseConfig } from '../pipelines/core/config.ts'
import { addDays, todayIn } from '../pipelines/core/day.ts'
import { silentLogger } from '../pipelines/core/logger.ts'
import { AD_PLANS_PAGE_LIMIT, STATISTICS_MAX_DAYS, STATISTICS_MAX_IDS } from '../pipelines/sources/vk-ads/api-client.ts'
import type { VkAdsAccount } from '../pipelines/sources/vk-ads/config.ts'
import { syncVkAdsAccount, VK_ADS_HISTORY_DAYS } from '../pipelines/sources/vk-ads/sync-account.ts'
import type { YandexDirectAccount } from '../pipelines/sources/yandex-direct/config.ts'
import { directBudgetFor } from '../pipelines/sources/yandex-direct/direct-limits.ts'
import {
  DEFAULT_REPORT_TIMEOUT_MS,
  reportName,
  YandexDirectClient,
} from '../pipelines/sources/yandex-direct/reports-client.ts'
import { MAX_REPORT_DAYS, syncYandexDirectAccount } from '../pipelines/sources/yandex-direct/sync-account.ts'
import type { AccountRunMode } from '../pipelines/warehouse/account-days.ts'
import { executeSql, openWarehouse, type WarehouseDb } from '../pipelines/warehouse/connection.ts'
import { migrateToLatest } from '../pipelines/warehouse/migrator.ts'
import { startRun } from '../pipelines/warehouse/run-ledger.ts'
import { DEFAULT_NOW, startSimulator } from '../simulator/index.ts'

const { values: args } = parseArgs({
  options: {
    engine: { type: 'string', default: 'pglite' },
    campaigns: { type: 'string', default: '300' },
    days: { type: 'string', default: '730' },
  },
})
const ENGINE = args.engine === 'postgres' ? 'postgres' : 'pglite'
const CAMPAIGNS = Number(args.campaigns)
const BACKFILL_DAYS = Number(args.days)
const ZONE = 'Europe/Moscow'
const HISTORY_START = '2023-06-01'
const SITE_ID = 12345
const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
/** Direct's documented cap of one report without `Page` (API.md §7). */
const DIRECT_MAX_REPORT_ROWS = 1_000_000
/** The simulator's GUESS of when `auto` goes offline (Direct publishes no number). */
const SIM_ONLINE_MAX_ROWS = 100_000
/** VK's documented limits (API.md §3, §4.1): ids per statistics request, days of history, list page sizes. */
const VK_DOC_MAX_IDS = 200
const VK_DOC_LIST_LIMIT = 50
const VK_CLIENT_LIST_LIMIT = 250

const DIRECT_SCENARIOS = [
  { name: 'auto', login: 'bench-direct-auto', forceOffline: false },
  { name: 'offline', login: 'bench-direct-offline', forceOffline: true },
] as const
const VK = { clientId: 'bench-vk-client', clientSecret: 'bench-vk-secret', userId: 2000001, username: 'bench@vk' }
const tokenOf = (login: string): string => `bench-direct-token-${login}`

type Phase = 'backfill' | 'nightly'

/** One request as it left this process. */
interface Sent {
  readonly at: number
  readonly kind: string
}

interface Figures {
  readonly platform: string
  readonly phase: Phase
  readonly daysAsked: number
  readonly result: AdAccountRunResult
  readonly sent: readonly Sent[]
  /** The simulator's count of this account's requests in the phase. */
  readonly simRequests: number
  readonly polls: number
  /** Refusals for a limit: Direct 56/506/9000 (HTTP 400 in the simulator), VK 429; with Direct's codes. */
  readonly limitRefusals: string
  /** Direct: most Reports requests in any 10 s (per login); VK: most requests in any second (cumulative: the simulator keeps no per-phase figure). */
  readonly simMax: string
  readonly tokenCalls: string
  readonly seconds: number
  readonly storedRows: number
  readonly matchesSimulator: boolean
  readonly least: number
  readonly leastHow: string
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'calltouch-etl-bench-ad-spend-'))
const sim = await startSimulator({
  port: 0,
  now: DEFAULT_NOW,
  timeZone: ZONE,
  yandexDirect: {
    accounts: DIRECT_SCENARIOS.map((scenario) => ({
      login: scenario.login,
      token: tokenOf(scenario.login),
      campaigns: CAMPAIGNS,
      historyStart: HISTORY_START,
    })),
  },
  vkAds: { accounts: [{ ...VK, adPlans: CAMPAIGNS, historyStart: HISTORY_START }] },
})
const { config: warehouseConfig, drop } = await warehouseFor(ENGINE)
const warehouse = await openWarehouse(warehouseConfig)
const figures: Figures[] = []
let directSingleReport: { requests: number; rows: number; expected: number; seconds: number } | undefined
const startedAt = performance.now()
try {
  await migrateToLatest(warehouse.db)
  const db = warehouse.db
  const today = todayIn(ZONE, new Date(sim.now()))
  const from = addDays(today, 1 - BACKFILL_DAYS)
  const backfill: AccountRunMode = { kind: 'backfill', from, to: today }

  for (const scenario of DIRECT_SCENARIOS)
    figures.push(await runDirect(db, scenario, 'backfill', backfill, from, BACKFILL_DAYS))
  figures.push(await runVk(db, 'backfill', backfill, from, BACKFILL_DAYS))

  sim.setClock(new Date(Date.parse(sim.now()) + 86_400_000).toISOString())
  for (const scenario of DIRECT_SCENARIOS)
    figures.push(await runDirect(db, scenario, 'nightly', { kind: 'sync' }, from, 0))
  figures.push(await runVk(db, 'nightly', { kind: 'sync' }, from, 0))

  directSingleReport = await oneDirectReport(from, today)
} finally {
  await warehouse.close()
  await drop()
  await sim.close()
  await fs.rm(dir, { recursive: true, force: true })
}
printFigures()

async function runDirect(
  db: WarehouseDb,
  scenario: (typeof DIRECT_SCENARIOS)[number],
  phase: Phase,
  mode: AccountRunMode,
  from: string,
  daysAsked: number,
): Promise<Figures> {
  sim.yandexDirect.reset()
  sim.yandexDirect.setFaults({ forceOffline: scenario.forceOffline })
  const account: YandexDirectAccount = {
    type: 'yandex-direct',
    token: tokenOf(scenario.login),
    siteId: SITE_ID,
    startDate: from,
    timeZone: ZONE,
    utm: { source: 'yandex', medium: 'cpc', campaign: 'id' },
    baseUrl: sim.url,
    where: `adAccounts[${scenario.name}]`,
  }
  const sent: Sent[] = []
  const now = new Date(sim.now())
  const started = performance.now()
  const result = await syncYandexDirectAccount({
    db,
    runId: await startRun(db, mode.kind),
    account,
    mode,
    settings: DEFAULT_AD_ACCOUNT_SETTINGS,
    now,
    logger: silentLogger(),
    fetch: recordingFetch(sent),
  })
  const seconds = (performance.now() - started) / 1000
  const login = sim.yandexDirect.stats().logins[scenario.login]
  const answers = login?.answersByStatus ?? {}
  const errors = login?.errorsByCode ?? {}
  const today = todayIn(ZONE, now)
  const expected = sim.yandexDirect.expectedRows(scenario.login, from, today)
  const stored = await storedRows(db, 'yandex-direct', scenario.login)
  const readFirst = mode.kind === 'backfill' ? mode.from : firstDayOf(sent, today)
  const rowsRead = sim.yandexDirect.expectedRows(scenario.login, readFirst, today).length
  const reports = Math.max(1, Math.ceil(rowsRead / DIRECT_MAX_REPORT_ROWS))
  const offline = scenario.forceOffline || rowsRead > SIM_ONLINE_MAX_ROWS
  return {
    platform: `Yandex Direct (${scenario.name})`,
    phase,
    daysAsked: mode.kind === 'backfill' ? daysAsked : 0,
    result,
    sent,
    simRequests: login?.requests ?? 0,
    polls: (answers['201'] ?? 0) + (answers['202'] ?? 0),
    limitRefusals: limitRefusals(errors, answers['429'] ?? 0),
    simMax: `${login?.maxReportRequestsIn10s ?? 0} in 10 s (Reports)`,
    tokenCalls: '—',
    seconds,
    storedRows: stored.rows,
    matchesSimulator: stored.rows === expected.length && stored.cost === sumCost(expected),
    least: 1 + reports * (offline ? 2 : 1),
    leastHow: `Clients.get + ${reports} report of ${rowsRead.toLocaleString('en-US')} rows${offline ? ' + 1 poll (offline)' : ''}`,
  }
}

async function runVk(
  db: WarehouseDb,
  phase: Phase,
  mode: AccountRunMode,
  from: string,
  daysAsked: number,
): Promise<Figures> {
  const before = sim.vkAds.stats().accounts[VK.clientId]
  const account: VkAdsAccount = {
    type: 'vk-ads',
    siteId: SITE_ID,
    startDate: from,
    timeZone: ZONE,
    utm: { source: 'vk', medium: 'cpc', campaign: 'id' },
    baseUrl: sim.url,
    currency: undefined,
    where: 'adAccounts[vk]',
    clientId: VK.clientId,
    clientSecret: VK.clientSecret,
  }
  const sent: Sent[] = []
  const now = new Date(sim.now())
  const started = performance.now()
  const result = await syncVkAdsAccount({
    db,
    runId: await startRun(db, mode.kind),
    account,
    mode,
    settings: DEFAULT_AD_ACCOUNT_SETTINGS,
    now,
    stateDir: path.join(dir, 'state'),
    logger: silentLogger(),
    fetch: recordingFetch(sent),
  })
  const seconds = (performance.now() - started) / 1000
  const after = sim.vkAds.stats().accounts[VK.clientId]
  const today = todayIn(ZONE, now)
  const stored = await storedRows(db, 'vk-ads', VK.clientId)
  const firstStored = addDays(todayIn(ZONE, new Date(DEFAULT_NOW)), 1 - VK_ADS_HISTORY_DAYS)
  const expected = sim.vkAds.expectedRows(VK.clientId, firstStored, today)
  const plans = sim.vkAds.adPlans(VK.clientId).length
  const daysRead = result.daysRead
  const statistics = Math.ceil(plans / VK_DOC_MAX_IDS) * Math.ceil(daysRead / VK_ADS_HISTORY_DAYS)
  const pages = Math.ceil(plans / VK_DOC_LIST_LIMIT)
  const mints = (after?.tokenMints ?? 0) - (before?.tokenMints ?? 0)
  const refreshes = (after?.tokenRefreshes ?? 0) - (before?.tokenRefreshes ?? 0)
  return {
    platform: 'VK Ads',
    phase,
    daysAsked: mode.kind === 'backfill' ? daysAsked : 0,
    result,
    sent,
    simRequests: (after?.requests ?? 0) - (before?.requests ?? 0),
    polls: 0,
    limitRefusals: String((after?.rateLimited ?? 0) - (before?.rateLimited ?? 0)),
    simMax: `${after?.maxRequestsInAnySecond ?? 0} in 1 s (so far)`,
    tokenCalls: `${mints} mint, ${refreshes} refresh; ${after?.liveTokens ?? 0} held`,
    seconds,
    storedRows: stored.rows,
    matchesSimulator: stored.rows === expected.length && stored.cost === sumCost(expected),
    least: 1 + 1 + pages + statistics,
    leastHow: `token + user.json + ${pages} list pages of ${VK_DOC_LIST_LIMIT} + ${statistics} statistics (${VK_DOC_MAX_IDS} ids, ${daysRead} days)`,
  }
}

/**
 * The least for Direct, measured: the backfill's whole range as ONE report through the product's
 * own client (a fresh report name; Clients.get not included). Direct builds it offline in the
 * simulator (more rows than `auto` serves online), so it is the first request and its polls.
 */
async function oneDirectReport(
  from: string,
  to: string,
): Promise<{ requests: number; rows: number; expected: number; seconds: number }> {
  const login = DIRECT_SCENARIOS[0].login
  sim.yandexDirect.reset()
  sim.yandexDirect.setFaults({})
  const client = new YandexDirectClient({
    baseUrl: sim.url,
    token: tokenOf(login),
    where: 'bench',
    budget: directBudgetFor(tokenOf(login)),
    timeoutMs: DEFAULT_AD_ACCOUNT_SETTINGS.timeoutMs,
    maxRetries: DEFAULT_AD_ACCOUNT_SETTINGS.maxRetries,
    timing: { retryInScaleMs: 1000, reportTimeoutMs: DEFAULT_REPORT_TIMEOUT_MS },
  })
  const started = performance.now()
  const report = await client.fetchSpendReport({
    firstDay: from,
    lastDay: to,
    reportName: reportName({ runId: 'bench-one-report', runStartedAt: new Date(), login, firstDay: from, lastDay: to }),
  })
  return {
    requests: report.requests,
    rows: report.rows.length,
    expected: sim.yandexDirect.expectedRows(login, from, to).length,
    seconds: (performance.now() - started) / 1000,
  }
}

/** Direct's refusals for its limits: `1 (56×1)`. */
function limitRefusals(errors: Record<string, number>, http429: number): string {
  const codes = ['56', '506', '9000'].filter((code) => (errors[code] ?? 0) > 0)
  const total = codes.reduce((sum, code) => sum + (errors[code] ?? 0), http429)
  const detail = [...codes.map((code) => `${code}×${errors[code]}`), ...(http429 > 0 ? [`429×${http429}`] : [])]
  return detail.length === 0 ? '0' : `${total} (${detail.join(', ')})`
}

/** fetch, stamping each request's kind and the moment it leaves. */
function recordingFetch(log: Sent[]): typeof fetch {
  return (input, init) => {
    log.push({ at: performance.now(), kind: kindOf(input, init) })
    return fetch(input, init)
  }
}

function kindOf(input: Parameters<typeof fetch>[0], init: RequestInit | undefined): string {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
  const kinds: Record<string, string> = {
    '/json/v5/reports': 'reports',
    '/json/v5/clients': 'Clients.get',
    '/api/v2/user.json': 'user.json',
    '/api/v2/ad_plans.json': 'ad_plans',
    '/api/v2/statistics/ad_plans/day.json': 'statistics',
  }
  if (url.pathname === '/api/v2/oauth2/token.json')
    return typeof init?.body === 'string' && init.body.includes('grant_type=refresh_token') ? 'refresh' : 'mint'
  const kind = kinds[url.pathname] ?? url.pathname
  // The first day a report or statistics request covers, for the nightly's range: `statistics 2026-11-21`.
  if (kind === 'statistics') return `${kind} ${url.searchParams.get('date_from') ?? ''}`
  if (kind === 'reports' && typeof init?.body === 'string') {
    const body = JSON.parse(init.body) as { params?: { SelectionCriteria?: { DateFrom?: string } } }
    return `${kind} ${body.params?.SelectionCriteria?.DateFrom ?? ''}`
  }
  return kind
}

/** The first day a sync read: the earliest day its reports or statistics requests asked for. */
function firstDayOf(sent: readonly Sent[], today: string): string {
  const days = sent.map((request) => request.kind.split(' ')[1]).filter((day): day is string => day !== undefined)
  return days.length > 0 ? days.sort()[0]! : addDays(today, 1 - DEFAULT_AD_ACCOUNT_SETTINGS.lookbackDays)
}

function maxInWindow(times: readonly number[], ms: number): number {
  let most = 0
  for (let last = 0, first = 0; last < times.length; last++) {
    while (times[first]! <= times[last]! - ms) first++
    most = Math.max(most, last - first + 1)
  }
  return most
}

function byKind(sent: readonly Sent[]): string {
  const counts = new Map<string, number>()
  for (const request of sent) {
    const kind = request.kind.split(' ')[0]!
    counts.set(kind, (counts.get(kind) ?? 0) + 1)
  }
  return [...counts].map(([kind, count]) => `${count} ${kind}`).join(', ')
}

async function storedRows(db: WarehouseDb, source: string, account: string): Promise<{ rows: number; cost: bigint }> {
  const [row] = await executeSql<{ rows: string; cost: string | null }>(
    db,
    `select count(*)::text as rows, sum(cost_micros)::text as cost
       from marketing.ad_campaign_stats where source_system = $1 and account = $2`,
    [source, account],
  )
  return { rows: Number(row?.rows ?? 0), cost: BigInt(row?.cost ?? 0) }
}

function sumCost(rows: readonly { costMicros: bigint }[]): bigint {
  return rows.reduce((sum, row) => sum + row.costMicros, 0n)
}

async function warehouseFor(engine: string): Promise<{ config: WarehouseConfig; drop: () => Promise<void> }> {
  if (engine === 'pglite')
    return { config: { engine: 'pglite', dataDir: path.join(dir, 'warehouse') }, drop: async () => {} }
  const name = `ct_bench_ad_spend_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: SERVER_URL })
  await admin.connect()
  await admin.query(`create database ${name}`)
  await admin.end()
  const url = new URL(SERVER_URL)
  url.pathname = `/${name}`
  return {
    config: { engine: 'postgres', databaseUrl: url.toString() },
    drop: async () => {
      const client = new pg.Client({ connectionString: SERVER_URL })
      await client.connect()
      await client.query(`drop database if exists ${name} with (force)`)
      await client.end()
    },
  }
}

function printFigures(): void {
  const head = [
    'platform',
    'phase',
    'days asked / read',
    'requests (result)',
    'requests (simulator)',
    'by kind (client)',
    'polls 201/202',
    'retries',
    'limit refusals',
    'most in any 1 s / 10 s (client)',
    'most (simulator)',
    'token calls',
    'wall s',
    'campaign-days ins/upd/unch',
    'stored = simulator',
    'least',
    'ours / least',
  ]
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`]
  for (const figure of figures) {
    const times = figure.sent.map((request) => request.at)
    const { result } = figure
    const failed =
      result.failures.length > 0 || result.error !== null
        ? ` (${result.failures.length} failed ranges${result.error === null ? '' : `, ${result.error}`})`
        : ''
    const cells = [
      figure.platform,
      figure.phase,
      `${figure.daysAsked === 0 ? 'sync' : figure.daysAsked} / ${result.daysRead}`,
      result.requests,
      figure.simRequests,
      byKind(figure.sent),
      figure.polls,
      result.retries,
      figure.limitRefusals,
      `${maxInWindow(times, 1000)} / ${maxInWindow(times, 10_000)}`,
      figure.simMax,
      figure.tokenCalls,
      figure.seconds.toFixed(1),
      `${result.inserted} / ${result.updated} / ${result.unchanged}`,
      `${figure.storedRows} ${figure.matchesSimulator ? 'yes' : 'NO'}${failed}`,
      `${figure.least}: ${figure.leastHow}`,
      (result.requests / figure.least).toFixed(1),
    ]
    lines.push(`| ${cells.join(' | ')} |`)
  }
  const vkPlans = CAMPAIGNS
  process.stdout.write(
    `Ad spend requests: one Yandex Direct advertiser and one VK Ads account of ${CAMPAIGNS} campaigns each, history from ${HISTORY_START};\n` +
      `a ${BACKFILL_DAYS}-day backfill ending at the simulator's today (${todayIn(ZONE, new Date(DEFAULT_NOW))}), then the next day's nightly sync (DEFAULT_AD_ACCOUNT_SETTINGS, look-back ${DEFAULT_AD_ACCOUNT_SETTINGS.lookbackDays} days).\n` +
      `Warehouse: ${ENGINE}. Direct "auto" = the simulator's default (a report of ≤ ${SIM_ONLINE_MAX_ROWS.toLocaleString('en-US')} rows online at once); "offline" = forceOffline (every report queued: retryIn 1 s, 100 ms queued, 300 ms building).\n\n` +
      `${lines.join('\n')}\n\n`,
  )
  if (directSingleReport !== undefined)
    process.stdout.write(
      `Direct's least, measured: the ${BACKFILL_DAYS} days as ONE report through YandexDirectClient.fetchSpendReport: ${directSingleReport.requests} requests ` +
        `(the first + ${directSingleReport.requests - 1} polls), ${directSingleReport.rows.toLocaleString('en-US')} rows (simulator: ${directSingleReport.expected.toLocaleString('en-US')}), ${directSingleReport.seconds.toFixed(1)} s; plus Clients.get.\n`,
    )
  process.stdout.write(
    [
      `Ours: Direct reads reports of ≤ ${MAX_REPORT_DAYS} days (⌈${BACKFILL_DAYS}/${MAX_REPORT_DAYS}⌉ = ${Math.ceil(BACKFILL_DAYS / MAX_REPORT_DAYS)} for the backfill) + Clients.get;`,
      `VK reads ≤ ${STATISTICS_MAX_DAYS} days × ≤ ${STATISTICS_MAX_IDS} ids a statistics request (⌈${VK_ADS_HISTORY_DAYS}/${STATISTICS_MAX_DAYS}⌉ × ⌈${vkPlans}/${STATISTICS_MAX_IDS}⌉ = ${Math.ceil(VK_ADS_HISTORY_DAYS / STATISTICS_MAX_DAYS) * Math.ceil(vkPlans / STATISTICS_MAX_IDS)} for the backfill), list pages of ${AD_PLANS_PAGE_LIMIT}, user.json and a token call.`,
      `Least: Direct, one report when it has < ${DIRECT_MAX_REPORT_ROWS.toLocaleString('en-US')} rows (API.md §7), + a poll if built offline, + Clients.get;`,
      `VK, ≤ ${VK_DOC_MAX_IDS} ids and the whole ${VK_ADS_HISTORY_DAYS} days of history a statistics request, list pages of ${VK_DOC_LIST_LIMIT} (the documented max; one client uses ${VK_CLIENT_LIST_LIMIT}: ⌈${vkPlans}/${VK_CLIENT_LIST_LIMIT}⌉ = ${Math.ceil(vkPlans / VK_CLIENT_LIST_LIMIT)} pages), user.json (needed unless the config names the currency), 1 token mint or refresh (API.md §3–§5).`,
      `VK keeps ${VK_ADS_HISTORY_DAYS} days, today included: the backfill reads ${VK_ADS_HISTORY_DAYS} of the ${BACKFILL_DAYS} days asked and logs the rest as too old.`,
      `Load average at the end: ${os
        .loadavg()
        .map((load) => load.toFixed(1))
        .join(
          ', ',
        )}; whole run ${((performance.now() - startedAt) / 1000).toFixed(0)} s; Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}`,
      `Reproduce: npm run bench:ad-spend-requests (npx tsx bench/ad-spend-requests.ts --engine ${ENGINE} --campaigns ${CAMPAIGNS} --days ${BACKFILL_DAYS})`,
      '',
    ].join('\n'),
  )
}
