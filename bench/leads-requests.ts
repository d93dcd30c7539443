/**
 * Issue 18, lead requests: a backfill of 60 days of one site with 3,000 calls and 500 requests a
 * day (and the simulator's default 30 deals a day) through the product itself, `calltouch-etl
 * backfill --from --to --json`, run as `npx calltouch-etl` runs it (node with the bin's shebang
 * flags, a process of its own), over real HTTP against the simulator in this process (rate limit
 * on: 5 a second + 5 queued; latency 250 ± 100 ms as bench/request-efficiency.ts), into a new
 * PostgreSQL database on TEST_DATABASE_URL's server (or an embedded PGlite warehouse in a
 * temporary directory).
 *
 * What it reports, per stream (deals, calls, requests):
 * - requests, by the simulator's count (`/_sim/stats` byEndpoint; the run's own result beside it),
 *   against the least: calls ⌈total calls / 1000⌉ (one window of every day, pages packed
 *   perfectly), and with it the least over day-aligned windows of ≤ 20,000 calls (the product's
 *   cut threshold) and the day-by-day read (Σ ⌈calls of a day / 1000⌉); requests one a day;
 *   deals Σ ⌈deals / 1000⌉ as bench/request-efficiency.ts counts it;
 * - the windows asked, read from the simulator's side (each request's dateFrom, dateTo and page):
 *   windows read, windows cut after their first page, first pages repeated;
 * - the rate kept while work remains: API requests between the simulator's first and last arrival,
 *   (n − 1) / (last − first); the longest gaps; arrivals per 10 s slice by stream;
 * - the most requests in any one second by the simulator's own count (maxRequestsInAnySecond),
 *   and 429s;
 * - wall time (the CLI process from spawn to exit), the load average (sampled every 5 s);
 * - whether the warehouse holds exactly the simulator's calls and requests: calltouch.calls and
 *   calltouch.requests against sim.expectedCalls / sim.expectedRequests, id by id and day by day,
 *   none removed, none rejected (and deals by count).
 *
 * Arrivals are stamped in this process, the simulator's, as its HTTP server receives each request
 * (node:http's `http.server.request.start` channel, the same tick as the simulator's own
 * `arrivedAt`), so the rate is the simulator's view, whatever the client's clock did; their count
 * is checked against the simulator's stats. The simulator's cache of generated days is warmed
 * before the run (see below), so that generating a day does not hold its event loop mid-run.
 *
 * To tell why a target is missed, three more views: the client's (a module loaded into the CLI
 * process with `--import` stamps each request as its headers leave, on the channel the product's
 * limiter counts by, and measures that event loop's delay), the simulator process's event loop
 * delay and CPU, and PostgreSQL's (pg_stat_activity of the warehouse's database every 200 ms: how
 * often 0, 1 or 2 loads were running a statement; the backends' CPU from /proc).
 *
 *   npx tsx bench/leads-requests.ts [--engine postgres|pglite] [--days 60] [--calls 3000]
 *     [--requests 500] [--deals N] [--seed 18] [--log-level info]
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import diagnosticsChannel from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import os from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import type { WarehouseConfig } from '../pipelines/core/config.ts'
import { addDays, eachDay } from '../pipelines/core/day.ts'
import { DEFAULT_MAX_WINDOW_RECORDS } from '../pipelines/sources/calltouch-deals/window-planner.ts'
import { RATE_WINDOW_MS } from '../pipelines/http/request-limiter.ts'
import { executeSql, openWarehouse } from '../pipelines/warehouse/connection.ts'
import { DEFAULT_DEALS_PER_DAY, DEFAULT_NOW, startSimulator, type SimulatorOptions } from '../simulator/index.ts'

const { values: args } = parseArgs({
  options: {
    engine: { type: 'string', default: 'postgres' },
    days: { type: 'string', default: '60' },
    calls: { type: 'string', default: '3000' },
    requests: { type: 'string', default: '500' },
    deals: { type: 'string' },
    seed: { type: 'string', default: '18' },
    'log-level': { type: 'string', default: 'info' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (args.help) {
  process.stdout.write(
    'Usage: npx tsx bench/leads-requests.ts [--engine postgres|pglite] [--days 60] [--calls 3000] [--requests 500] [--deals N] [--seed 18] [--log-level info]\n',
  )
  process.exit(0)
}
const ENGINE = args.engine === 'pglite' ? 'pglite' : 'postgres'
const DAYS = Number(args.days)
const CALLS_PER_DAY = Number(args.calls)
const REQUESTS_PER_DAY = Number(args.requests)
const DEALS_PER_DAY = args.deals === undefined ? undefined : Number(args.deals)
const SEED = Number(args.seed)
const SITE_ID = 18018
const TOKEN = 'bench-leads-token'
const ZONE = 'Europe/Moscow'
/** The day before the simulator's default clock (2026-11-29 12:00). */
const LAST_DAY = '2026-11-28'
const FIRST_DAY = addDays(LAST_DAY, 1 - DAYS)
const PAGE = 1000
const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const BIN = path.join(ROOT, 'bin', 'calltouch-etl.js')
const STREAMS = ['deals', 'calls', 'requests'] as const
type Stream = (typeof STREAMS)[number]

const SIM_OPTIONS: SimulatorOptions = {
  port: 0,
  seed: SEED,
  now: DEFAULT_NOW,
  timeZone: ZONE,
  latencyMs: 150,
  latencyJitterMs: 200,
  sites: [
    {
      siteId: SITE_ID,
      token: TOKEN,
      callsPerDay: CALLS_PER_DAY,
      requestsPerDay: REQUESTS_PER_DAY,
      ...(DEALS_PER_DAY === undefined ? {} : { dealsPerDay: DEALS_PER_DAY }),
    },
  ],
}

/** One API request as the simulator's server received it. */
interface Arrival {
  /** Epoch ms. */
  readonly at: number
  readonly stream: Stream
  /** Site-local days asked, and the page (undefined for the unpaged requests journal). */
  readonly from: string
  readonly to: string
  readonly page: number | undefined
}

const arrivals: Arrival[] = []
const onRequest = (message: unknown): void => {
  const request = (message as { request: IncomingMessage }).request
  const url = new URL(request.url ?? '/', 'http://sim')
  const stream: Stream | undefined = url.pathname.endsWith('/orders-diary/orders')
    ? 'deals'
    : url.pathname.endsWith('/calls-diary/calls')
      ? 'calls'
      : url.pathname.endsWith('/RestAPI/requests')
        ? 'requests'
        : undefined
  if (stream === undefined) return
  // Deals and calls take day-first dates, requests month-first (LEADS-API.md).
  const day = (text: string | null): string => {
    const [a, b, y] = (text ?? '').split('/')
    return stream === 'requests' ? `${y}-${a}-${b}` : `${y}-${b}-${a}`
  }
  const page = url.searchParams.get('page')
  arrivals.push({
    at: Date.now(),
    stream,
    from: day(url.searchParams.get('dateFrom')),
    to: day(url.searchParams.get('dateTo')),
    page: page === null ? undefined : Number(page),
  })
}

/**
 * Loaded into the CLI process (`node --import`): stamps each request as its headers leave (the
 * channel the product's limiter counts by) and measures that process's event-loop delay, written
 * out at exit: the client's view, to set beside the simulator's.
 */
const CLIENT_PROBE = `
import diagnosticsChannel from 'node:diagnostics_channel'
import fs from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
const sends = []
const delay = monitorEventLoopDelay({ resolution: 10 })
delay.enable()
diagnosticsChannel.subscribe('undici:client:sendHeaders', (message) => sends.push(Date.now()))
process.on('exit', () => fs.writeFileSync(process.env.BENCH_LEADS_CLIENT_FILE, JSON.stringify({
  sends, loopDelayMaxMs: delay.max / 1e6, loopDelayP99Ms: delay.percentile(99) / 1e6,
  cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6 })))
`

/** What the CLI process saw of itself (CLIENT_PROBE). */
interface ClientView {
  readonly sends: readonly number[]
  readonly loopDelayMaxMs: number
  readonly loopDelayP99Ms: number
  readonly cpuSeconds: number
}

/** PostgreSQL's side of the run, sampled every 200 ms: loads under way, and the backends' CPU. */
interface ServerView {
  samples: number
  /** Samples by how many of the warehouse's backends were running a statement (0, 1, 2, 3+). */
  active: number[]
  /** Latest CPU seconds of each backend of the warehouse's database, by pid. */
  cpuByPid: Map<number, number>
}

const loads: number[] = []
const sampleLoad = (): void => void loads.push(os.loadavg()[0] ?? 0)
const loadAtStart = os.loadavg()
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'calltouch-etl-bench-leads-'))
const sim = await startSimulator(SIM_OPTIONS)
const { config: warehouseConfig, drop } = await warehouseFor(ENGINE)

// What the simulator serves, day by day: the least, the windows' sizes and the warehouse check.
// Asked last day first, so that this also warms the simulator's cache of generated days (200,000
// leads, least recently used out) with the days the backfill reads first: a day generated while
// requests arrive stalls the simulator's event loop, which then stamps the arrivals that queued
// behind it together (a cold 7-day calls probe took ~0.4 s on a quiet loop).
const callsByDay = new Map<string, number[]>()
const requestsByDay = new Map<string, number[]>()
for (const day of eachDay(FIRST_DAY, LAST_DAY).reverse()) {
  callsByDay.set(
    day,
    sim.expectedCalls(SITE_ID, day, day).map((call) => call.callId),
  )
  requestsByDay.set(
    day,
    sim.expectedRequests(SITE_ID, day, day).map((request) => request.requestId),
  )
}
const expectedDealCount = sim.expectedDeals(SITE_ID, FIRST_DAY, LAST_DAY).length

let run: CliRun
let warehouseCheck: WarehouseCheck
const server: ServerView = { samples: 0, active: [0, 0, 0, 0], cpuByPid: new Map() }
const simLoop = monitorEventLoopDelay({ resolution: 10 })
let simCpuSeconds = 0
try {
  diagnosticsChannel.subscribe('http.server.request.start', onRequest)
  sampleLoad()
  const sampler = setInterval(sampleLoad, 5000)
  const stopSampling = new AbortController()
  const serverSampling = warehouseConfig.engine === 'postgres' ? sampleServer(stopSampling.signal) : undefined
  const cpuBefore = process.cpuUsage()
  simLoop.enable()
  try {
    run = await runBackfill()
  } finally {
    simLoop.disable()
    const cpu = process.cpuUsage(cpuBefore)
    simCpuSeconds = (cpu.user + cpu.system) / 1e6
    clearInterval(sampler)
    stopSampling.abort()
    await serverSampling
    diagnosticsChannel.unsubscribe('http.server.request.start', onRequest)
    sampleLoad()
  }
  warehouseCheck = await checkWarehouse(warehouseConfig)
} finally {
  await sim.close().catch(() => {})
  await drop()
  await fs.rm(dir, { recursive: true, force: true })
}
report(run, warehouseCheck, sim.stats())

interface CliRun {
  readonly code: number | null
  readonly startedAt: number
  readonly endedAt: number
  readonly result: {
    ok: boolean
    durationMs: number
    deals: { requests: number; retries: number; windows: number; windowsFailed: number }
    leads: { requests: number; retries: number; reads: number; readsFailed: number; seen: number; rejected: number }
  }
  readonly stderr: string
  readonly client: ClientView | undefined
}

/** Samples pg_stat_activity of the warehouse's database every 200 ms, and its backends' CPU from /proc. */
async function sampleServer(signal: AbortSignal): Promise<void> {
  if (warehouseConfig.engine !== 'postgres') return
  const database = new URL(warehouseConfig.databaseUrl).pathname.slice(1)
  const admin = new pg.Client({ connectionString: SERVER_URL })
  await admin.connect()
  try {
    while (!signal.aborted) {
      const { rows } = await admin.query<{ pid: number; active: boolean }>(
        `select pid, state = 'active' as active from pg_stat_activity where datname = $1 and backend_type = 'client backend'`,
        [database],
      )
      const active = rows.filter((row) => row.active).length
      server.samples += 1
      server.active[Math.min(3, active)] = (server.active[Math.min(3, active)] ?? 0) + 1
      for (const { pid } of rows) {
        const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
        // After the command name: utime and stime are the 12th and 13th fields, in 1/100 s.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        if (fields.length > 13) server.cpuByPid.set(pid, (Number(fields[11]) + Number(fields[12])) / 100)
      }
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  } finally {
    await admin.end()
  }
}

/** `calltouch-etl backfill --from --to --json` in a process of its own, with the bin's node flags. */
async function runBackfill(): Promise<CliRun> {
  const shebang = readFileSync(BIN, 'utf8').split('\n')[0] ?? ''
  const nodeFlags = shebang.split(/\s+/).filter((word) => word.startsWith('--'))
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env))
    if (value !== undefined && !/^(CALLTOUCH_|YANDEX_DIRECT_|VK_ADS_|DATABASE_URL$)/.test(name)) env[name] = value
  Object.assign(env, {
    CALLTOUCH_BASE_URL: sim.url,
    CALLTOUCH_SITE_ID: String(SITE_ID),
    CALLTOUCH_API_TOKEN: TOKEN,
    CALLTOUCH_TIMEZONE: ZONE,
    CALLTOUCH_START_DATE: FIRST_DAY,
    CALLTOUCH_ETL_STATE_DIR: path.join(dir, 'state'),
    CALLTOUCH_ETL_LOG_FORMAT: 'json',
    CALLTOUCH_ETL_LOG_LEVEL: args['log-level'] ?? 'info',
    ...(warehouseConfig.engine === 'postgres'
      ? { DATABASE_URL: warehouseConfig.databaseUrl }
      : { CALLTOUCH_ETL_DATA_DIR: warehouseConfig.dataDir }),
  })
  const probe = path.join(dir, 'client-probe.mjs')
  const clientFile = path.join(dir, 'client-view.json')
  await fs.writeFile(probe, CLIENT_PROBE)
  env.BENCH_LEADS_CLIENT_FILE = clientFile
  const startedAt = Date.now()
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      '--import',
      pathToFileURL(probe).href,
      BIN,
      'backfill',
      '--from',
      FIRST_DAY,
      '--to',
      LAST_DAY,
      '--json',
    ],
    { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  const endedAt = Date.now()
  const line = stdout.trim().split('\n').at(-1) ?? ''
  const client = await fs
    .readFile(clientFile, 'utf8')
    .then((text) => JSON.parse(text) as ClientView)
    .catch(() => undefined)
  try {
    return { code, startedAt, endedAt, result: JSON.parse(line) as CliRun['result'], stderr, client }
  } catch {
    throw new Error(`backfill exited ${code} without its JSON result:\n${stdout}\n${stderr.slice(-4000)}`)
  }
}

interface JournalCheck {
  readonly expected: number
  readonly stored: number
  readonly removed: number
  readonly missing: number
  readonly extra: number
  readonly wrongDay: number
}

interface WarehouseCheck {
  readonly calls: JournalCheck
  readonly requests: JournalCheck
  readonly rejected: number
  readonly deals: { expected: number; stored: number }
}

/** The warehouse's calls and requests against what the simulator serves, id by id and day by day. */
async function checkWarehouse(config: WarehouseConfig): Promise<WarehouseCheck> {
  const warehouse = await openWarehouse(config)
  try {
    const compare = async (table: string, key: string, day: string, byDay: Map<string, number[]>) => {
      const rows = await executeSql<{ id: string; day: string; removed: boolean }>(
        warehouse.db,
        `select ${key}::text as id, to_char(${day}, 'YYYY-MM-DD') as day, removed_from_source_at is not null as removed
           from ${table} where site_id = $1`,
        [SITE_ID],
      )
      const expected = new Map<string, string>()
      for (const [each, ids] of byDay) for (const id of ids) expected.set(String(id), each)
      const stored = new Map(rows.map((row) => [row.id, row]))
      let missing = 0
      let wrongDay = 0
      for (const [id, each] of expected) {
        const row = stored.get(id)
        if (row === undefined) missing += 1
        else if (row.day !== each) wrongDay += 1
      }
      return {
        expected: expected.size,
        stored: rows.length,
        removed: rows.filter((row) => row.removed).length,
        missing,
        extra: rows.filter((row) => !expected.has(row.id)).length,
        wrongDay,
      }
    }
    const [rejected] = await executeSql<{ n: number }>(
      warehouse.db,
      `select count(*)::integer as n from etl.rejected_records where source in ('calltouch-calls', 'calltouch-requests')`,
    )
    const [deals] = await executeSql<{ n: number }>(
      warehouse.db,
      'select count(*)::integer as n from calltouch.orders where site_id = $1',
      [SITE_ID],
    )
    return {
      calls: await compare('calltouch.calls', 'call_id', 'call_day', callsByDay),
      requests: await compare('calltouch.requests', 'request_id', 'request_day', requestsByDay),
      rejected: rejected?.n ?? 0,
      deals: { expected: expectedDealCount, stored: deals?.n ?? 0 },
    }
  } finally {
    await warehouse.close()
  }
}

/** The least requests of calls over day-aligned windows of at most `cap` calls (one request per 1000, at least one a window). */
function leastOverWindows(counts: readonly number[], cap: number): number {
  const best: number[] = [0]
  for (let end = 1; end <= counts.length; end++) {
    let sum = 0
    let least = Infinity
    for (let start = end - 1; start >= 0; start--) {
      sum += counts[start] ?? 0
      if (sum > cap && start < end - 1) break
      least = Math.min(least, (best[start] ?? Infinity) + Math.max(1, Math.ceil(sum / PAGE)))
    }
    best.push(least)
  }
  return best[counts.length] ?? 0
}

/** A window asked of a paged endpoint, as the simulator saw it. */
interface AskedWindow {
  readonly from: string
  readonly to: string
  readonly records: number
  readonly firstPages: number
  readonly pages: Set<number>
  readonly requests: number
}

function windowsAsked(stream: Stream, recordsOn: (day: string) => number): AskedWindow[] {
  const windows = new Map<string, AskedWindow>()
  for (const arrival of arrivals) {
    if (arrival.stream !== stream) continue
    const key = `${arrival.from}..${arrival.to}`
    const window = windows.get(key) ?? {
      from: arrival.from,
      to: arrival.to,
      records: eachDay(arrival.from, arrival.to).reduce((sum, day) => sum + recordsOn(day), 0),
      firstPages: 0,
      pages: new Set<number>(),
      requests: 0,
    }
    windows.set(key, {
      ...window,
      firstPages: window.firstPages + (arrival.page === 1 ? 1 : 0),
      pages: window.pages.add(arrival.page ?? 1),
      requests: window.requests + 1,
    })
  }
  return [...windows.values()].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to))
}

function report(cli: CliRun, check: WarehouseCheck, stats: ReturnType<typeof sim.stats>): void {
  const sorted = [...arrivals].sort((a, b) => a.at - b.at)
  const first = sorted[0]?.at ?? cli.startedAt
  const last = sorted.at(-1)?.at ?? first
  const spanS = (last - first) / 1000
  const rate = sorted.length > 1 ? (sorted.length - 1) / spanS : 0
  const count = (stream: Stream): number => sorted.filter((arrival) => arrival.stream === stream).length
  const byEndpoint = stats.requests.byEndpoint
  const simCount: Record<Stream, number> = {
    deals: byEndpoint.export,
    calls: byEndpoint.calls ?? 0,
    requests: byEndpoint.requests ?? 0,
  }

  const callCounts = eachDay(FIRST_DAY, LAST_DAY).map((day) => callsByDay.get(day)?.length ?? 0)
  const totalCalls = callCounts.reduce((sum, n) => sum + n, 0)
  const totalRequests = [...requestsByDay.values()].reduce((sum, ids) => sum + ids.length, 0)
  const leastCalls = Math.ceil(totalCalls / PAGE)
  const leastCallsCapped = leastOverWindows(callCounts, DEFAULT_MAX_WINDOW_RECORDS)
  const dayByDayCalls = callCounts.reduce((sum, n) => sum + Math.max(1, Math.ceil(n / PAGE)), 0)
  const leastDeals = Math.ceil(check.deals.expected / PAGE)

  const callWindows = windowsAsked('calls', (day) => callsByDay.get(day)?.length ?? 0)
  const readWindows = callWindows.filter((window) => window.pages.size >= Math.max(1, Math.ceil(window.records / PAGE)))
  const cutWindows = callWindows.filter((window) => !readWindows.includes(window))
  const leastOfReadWindows = readWindows.reduce((sum, window) => sum + Math.max(1, Math.ceil(window.records / PAGE)), 0)
  const windowDays = readWindows.map((window) => eachDay(window.from, window.to).length)
  const dealWindows = windowsAsked('deals', () => 0)
  const requestDays = new Set(sorted.filter((a) => a.stream === 'requests').map((a) => a.from))

  // Gaps between arrivals beyond the limiter's pace (5 per RATE_WINDOW_MS): time the budget sat idle.
  const pace = RATE_WINDOW_MS / 5
  const gaps = sorted
    .slice(1)
    .map((arrival, i) => ({ at: (arrival.at - first) / 1000, gap: arrival.at - (sorted[i]?.at ?? arrival.at) }))
    .sort((a, b) => b.gap - a.gap)
  const arrivalTimes = sorted.map((arrival) => arrival.at)
  const ownMax = busiest(arrivalTimes, 1000)
  const sends = [...(cli.client?.sends ?? [])].sort((a, b) => a - b)
  const clientMax = busiest(sends, 1000)
  const clientMaxLimiter = busiest(sends, RATE_WINDOW_MS)
  // Where the simulator counted the most: what the client sent in the same second, give or take 100 ms.
  const hotEnd = ownMax.end
  const sentNearHot = sends.filter((at) => at > hotEnd - 1100 && at <= hotEnd).length
  // Each request from the client's send to the simulator's stamp, pairing the i-th of each in time order
  // (requests on different connections may overtake each other, so this is a close estimate).
  const lateness = sends
    .slice(0, arrivalTimes.length)
    .map((sentAt, i) => (arrivalTimes[i] ?? sentAt) - sentAt)
    .sort((a, b) => a - b)
  const latenessAt = (q: number): number =>
    lateness[Math.min(lateness.length - 1, Math.floor(q * lateness.length))] ?? 0
  const serverCpu = [...server.cpuByPid.values()].reduce((sum, cpu) => sum + cpu, 0)
  const activeShare = (n: number): string =>
    `${((100 * (server.active[n] ?? 0)) / Math.max(1, server.samples)).toFixed(0)} %`

  const out: string[] = []
  const fmt = (n: number): string => n.toLocaleString('en-US')
  const dealsPerDay = DEALS_PER_DAY ?? DEFAULT_DEALS_PER_DAY
  out.push(
    `Lead requests: backfill ${FIRST_DAY}..${LAST_DAY} (${DAYS} days) of site ${SITE_ID}: ${fmt(totalCalls)} calls (${CALLS_PER_DAY}/day), ${fmt(totalRequests)} requests (${REQUESTS_PER_DAY}/day), ${fmt(check.deals.expected)} deals (${dealsPerDay}/day${DEALS_PER_DAY === undefined ? ', the simulator default' : ''}); seed ${SEED}`,
    `Engine ${ENGINE}; \`calltouch-etl backfill --json\` in its own process; simulator in this process, rate limit 5/s + 5 queued, latency 250 ± 100 ms`,
    '',
    '| stream | requests (simulator) | its own count (run result) | least | requests / least | how the least is counted |',
    '|---|--:|--:|--:|--:|---|',
    `| calls | ${simCount.calls} | — | ${leastCalls} | ${(simCount.calls / leastCalls).toFixed(2)} | ⌈${fmt(totalCalls)} / 1000⌉; over day-aligned windows of ≤ ${fmt(DEFAULT_MAX_WINDOW_RECORDS)}: ${leastCallsCapped}; day by day Σ⌈day/1000⌉: ${dayByDayCalls}; Σ⌈window/1000⌉ of the windows read: ${leastOfReadWindows} |`,
    `| requests | ${simCount.requests} | — | ${DAYS} | ${(simCount.requests / DAYS).toFixed(2)} | one a day (${requestDays.size} distinct days asked) |`,
    `| calls + requests | ${simCount.calls + simCount.requests} | ${cli.result.leads.requests} | ${leastCalls + DAYS} | ${((simCount.calls + simCount.requests) / (leastCalls + DAYS)).toFixed(2)} | the run counts its lead streams together (LeadsSummary.requests) |`,
    `| deals | ${simCount.deals} | ${cli.result.deals.requests} | ${leastDeals} | ${(simCount.deals / leastDeals).toFixed(2)} | ⌈${fmt(check.deals.expected)} / 1000⌉ (windows: ${dealWindows.map((w) => `${w.from}..${w.to} × ${w.requests}`).join(', ')}) |`,
    `| all | ${stats.requests.total} | ${cli.result.deals.requests + cli.result.leads.requests} | ${leastCalls + DAYS + leastDeals} | ${(stats.requests.total / (leastCalls + DAYS + leastDeals)).toFixed(2)} | retries: deals ${cli.result.deals.retries}, leads ${cli.result.leads.retries} |`,
    '',
    `Calls windows: ${readWindows.length} read (days per window: ${summarize(windowDays)}; calls per window: ${summarize(readWindows.map((w) => w.records))}), ${cutWindows.length} cut after their first page (${cutWindows.map((w) => `${w.from}..${w.to}: ${fmt(w.records)} calls`).join(', ') || 'none'}), first pages asked again: ${callWindows.reduce((sum, w) => sum + w.firstPages - (w.firstPages > 0 ? 1 : 0), 0)}`,
    '',
    `Rate while work remains: ${sorted.length} API requests arrived in ${spanS.toFixed(1)} s from the first to the last = **${rate.toFixed(2)} /s** (the limiter's ceiling: 5 per ${RATE_WINDOW_MS} ms = ${(5000 / RATE_WINDOW_MS).toFixed(2)} /s; at that pace these requests take ${((sorted.length - 1) * (pace / 1000)).toFixed(1)} s)`,
    `Time the budget sat idle (gaps beyond ${pace.toFixed(0)} ms): ${(gaps.reduce((sum, g) => sum + Math.max(0, g.gap - pace), 0) / 1000).toFixed(1)} s; longest gaps: ${gaps
      .slice(0, 5)
      .map((g) => `${g.gap} ms at +${g.at.toFixed(1)} s`)
      .join(', ')}`,
    `Most requests in any 1 s, simulator (maxRequestsInAnySecond): **${stats.maxRequestsInAnySecond}** (these arrival stamps: ${ownMax.count}, the second ending +${((hotEnd - first) / 1000).toFixed(1)} s, when the client sent ${sentNearHot} in the 1.1 s before); started in any 1 s: ${stats.maxStartedInAnySecond}; 429s: ${stats.rejected429}; queued by the simulator's limiter: ${stats.queued}; answers: ${JSON.stringify(stats.responsesByStatus)}`,
    cli.client === undefined
      ? 'Client (CLI process): no probe output'
      : `Client (CLI process, headers sent): ${sends.length} requests, most in any 1 s ${clientMax.count}, in any ${RATE_WINDOW_MS} ms ${clientMaxLimiter.count}; sent → stamped by the simulator: median ${latenessAt(0.5)} ms, p99 ${latenessAt(0.99)} ms, max ${lateness.at(-1) ?? 0} ms; its event loop delay max ${cli.client.loopDelayMaxMs.toFixed(0)} ms, p99 ${cli.client.loopDelayP99Ms.toFixed(0)} ms; CPU ${cli.client.cpuSeconds.toFixed(1)} s`,
    `Simulator (this process): event loop delay max ${(simLoop.max / 1e6).toFixed(0)} ms, p99 ${(simLoop.percentile(99) / 1e6).toFixed(0)} ms; CPU ${simCpuSeconds.toFixed(1)} s`,
    ENGINE === 'postgres'
      ? `PostgreSQL (the warehouse's backends, ${server.samples} samples every 200 ms): statements running 0 / 1 / 2 / 3+: ${[0, 1, 2, 3].map(activeShare).join(' / ')} of the time; backend CPU ${serverCpu.toFixed(1)} s`
      : 'PGlite: loads run in the CLI process',
    `Arrivals counted here ${sorted.length} = simulator's total ${stats.requests.total}: ${sorted.length === stats.requests.total}`,
    '',
    'Arrivals per 10 s slice (from the first), deals / calls / requests:',
  )
  const slices: string[] = []
  for (let start = first; start <= last; start += 10_000) {
    const inSlice = sorted.filter((a) => a.at >= start && a.at < start + 10_000)
    slices.push(
      `+${((start - first) / 1000).toFixed(0)}s ${STREAMS.map((s) => inSlice.filter((a) => a.stream === s).length).join('/')}`,
    )
  }
  out.push(slices.join(' · '), '')
  for (const stream of STREAMS) {
    const own = sorted.filter((a) => a.stream === stream)
    if (own.length === 0) continue
    out.push(
      `${stream}: ${count(stream)} requests from +${(((own[0]?.at ?? first) - first) / 1000).toFixed(1)} s to +${(((own.at(-1)?.at ?? first) - first) / 1000).toFixed(1)} s`,
    )
  }
  const wallS = (cli.endedAt - cli.startedAt) / 1000
  out.push(
    '',
    `Wall: ${wallS.toFixed(1)} s for the CLI process (exit code ${cli.code}, ok ${cli.result.ok}); its run ${(cli.result.durationMs / 1000).toFixed(1)} s; first request +${((first - cli.startedAt) / 1000).toFixed(1)} s after spawn, exit ${((cli.endedAt - last) / 1000).toFixed(1)} s after the last request`,
    `Warehouse (${ENGINE}) = simulator: calls ${verdict(check.calls)}; requests ${verdict(check.requests)}; rejected ${check.rejected}; deals ${fmt(check.deals.stored)} of ${fmt(check.deals.expected)}; reads failed: deals ${cli.result.deals.windowsFailed}, leads ${cli.result.leads.readsFailed}`,
    `Load average (1 min): ${loadAtStart.map((load) => load.toFixed(1)).join(', ')} at the start; ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} while running; ${os.cpus().length} CPUs`,
    `Targets: ≥ 4.5 /s while work remains: ${rate >= 4.5 ? 'met' : 'MISSED'}; ≤ 5 in any second (simulator): ${stats.maxRequestsInAnySecond <= 5 ? 'met' : 'MISSED'}`,
    `Reproduce: npx tsx bench/leads-requests.ts --engine ${ENGINE} --days ${DAYS} --calls ${CALLS_PER_DAY} --requests ${REQUESTS_PER_DAY}${DEALS_PER_DAY === undefined ? '' : ` --deals ${DEALS_PER_DAY}`} --seed ${SEED}`,
  )
  process.stdout.write(`${out.join('\n')}\n`)
  const failures = cli.stderr
    .split('\n')
    .filter((line) => line.includes('"level":"error"') || line.includes('"level":50'))
  if (failures.length > 0) process.stdout.write(`Errors logged by the run:\n${failures.slice(0, 10).join('\n')}\n`)
  const exact = [check.calls, check.requests].every((c) => verdict(c) === 'exact') && check.rejected === 0
  process.exitCode = cli.code === 0 && exact ? 0 : 1
}

/** The most stamps in any window of `ms` (t − ms, t], and the t of the first such window. */
function busiest(times: readonly number[], ms: number): { count: number; end: number } {
  let best = { count: 0, end: 0 }
  for (let end = 0, start = 0; end < times.length; end++) {
    while ((times[start] ?? 0) <= (times[end] ?? 0) - ms) start++
    if (end - start + 1 > best.count) best = { count: end - start + 1, end: times[end] ?? 0 }
  }
  return best
}

function verdict(check: JournalCheck): string {
  if (
    check.missing === 0 &&
    check.extra === 0 &&
    check.wrongDay === 0 &&
    check.removed === 0 &&
    check.stored === check.expected
  )
    return 'exact'
  return `NOT exact (${check.stored} stored of ${check.expected}: ${check.missing} missing, ${check.extra} extra, ${check.wrongDay} on another day, ${check.removed} marked removed)`
}

function summarize(values: readonly number[]): string {
  if (values.length === 0) return '—'
  const sorted = [...values].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0
  return `${(sorted[0] ?? 0).toLocaleString('en-US')}–${(sorted.at(-1) ?? 0).toLocaleString('en-US')}, median ${median.toLocaleString('en-US')}`
}

async function warehouseFor(engine: string): Promise<{ config: WarehouseConfig; drop: () => Promise<void> }> {
  if (engine === 'pglite')
    return { config: { engine: 'pglite', dataDir: path.join(dir, 'warehouse') }, drop: async () => {} }
  const name = `ct_bench_leads_${randomBytes(4).toString('hex')}`
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
