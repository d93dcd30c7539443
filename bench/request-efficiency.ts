/**
 * Issue 7 §1, request efficiency and rate: 3 sites × 60 days (one ~2,500 deals a
 * day, two a few dozen), simulator latency 250 ± 100 ms, rate limit on. The
 * pipeline's extractor (sync-sites with its window planner and the shared
 * limiter) against a naive sequential day-by-day extractor, in the same run.
 *
 * Only extraction is measured: the bench's loader parses the pages and counts the
 * deals per day but writes nothing (load speed is bench/load-throughput.ts).
 * The simulator runs in a child process so that its page generation does not
 * stall the client's clock, and the client's in-window counts are checked
 * against what the simulator serves. Time lost against the limiter's pace is split in two:
 * sends that came late while nothing was queued (the scheduling ran dry: probes, the tail) and
 * sends that came late although requests waited (timers and the event loop on a loaded machine).
 *
 * Issue 19's figure, the wall time against the API's least (Σ ceil(deals / 1000) requests at 5 a
 * second), is printed for the pipeline with where the requests above the least went (first pages
 * of windows cut smaller, pages of windows read whole, repeats) and where the time went (start-up,
 * gaps with nothing queued, late sends, the tail). `cli` runs the real command,
 * `calltouch-etl backfill --only deals`, into a migrated PostgreSQL warehouse of its own, timed
 * from spawn to exit, with the simulator's arrival times of its first and last request.
 *
 *   npx tsx bench/request-efficiency.ts [--days 60] [--big 2500] [--extractors pipeline,cli,naive]
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import fs from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import diagnosticsChannel from 'node:diagnostics_channel'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import Table from 'cli-table3'
import { addDays } from '../pipelines/core/day.ts'
import { createRequestLimiter, RATE_WINDOW_MS, type RequestLimiter } from '../pipelines/http/request-limiter.ts'
import { syncSites, type WindowLoader } from '../pipelines/sources/calltouch-deals/sync-sites.ts'
import { silentLogger } from '../pipelines/core/logger.ts'
import { DEFAULT_RUN_SETTINGS, type SiteConfig } from '../pipelines/sources/calltouch-deals/config.ts'
import type { WarehouseDb } from '../pipelines/warehouse/connection.ts'
import { expectedDeals, type SimulatorOptions, type SimulatorStats } from '../simulator/index.ts'

const args = new Map<string, string>()
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i] ?? '', process.argv[i + 1] ?? '')
const DAYS = Number(args.get('--days') ?? 60)
const BIG = Number(args.get('--big') ?? 2500)
/** Which extractors to run; the naive one takes minutes, so tuning the pipeline can leave it out. */
const EXTRACTORS = (args.get('--extractors') ?? 'pipeline,naive').split(',')
const LAST_DAY = '2026-11-28'
const FIRST_DAY = addDays(LAST_DAY, 1 - DAYS)
const SITES = [
  { siteId: 1001, token: 'bench/one+token.x', dealsPerDay: BIG },
  { siteId: 1002, token: 'bench/two+token.x', dealsPerDay: 40 },
  { siteId: 1003, token: 'bench/three+token.x', dealsPerDay: 25 },
]

/**
 * Requests handed to the limiter and not yet sent, by URL (origin + path + query), with the
 * time each was handed over: at each send, the oldest of them says since when the queue held
 * work, which splits time lost against the limit into "nothing to send" and "late sends".
 */
const pendingSince = new Map<string, number[]>()
/** Every export request the pipeline handed to the limiter, and when its answer came back. */
interface LoggedRequest {
  readonly siteId: number
  readonly dateFrom: string
  readonly dateTo: string
  readonly page: number
  answeredAt: number | undefined
}
const requestLog: LoggedRequest[] = []
/** Where the command's bench warehouse is created and dropped. */
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

const SIM_OPTIONS: SimulatorOptions = { seed: 7, sites: SITES, latencyMs: 150, latencyJitterMs: 200 }

if (args.has('--serve')) {
  const { startSimulator } = await import('../simulator/index.ts')
  const sim = await startSimulator({ ...SIM_OPTIONS, port: 0 })
  // When each export request reached the server (epoch ms): the command's start-up and tail, seen from the API.
  let arrivals: number[] = []
  diagnosticsChannel.subscribe('http.server.request.start', (message) => {
    const url = (message as { request?: { url?: string } }).request?.url ?? ''
    if (url.includes('/orders-diary/')) arrivals.push(performance.timeOrigin + performance.now())
  })
  process.stdout.write(`${sim.url}\n`)
  createInterface({ input: process.stdin }).on('line', () => {
    process.stdout.write(`${JSON.stringify(arrivals)}\n`)
    arrivals = []
  })
  process.stdin.on('end', () => void sim.close().then(() => process.exit(0)))
} else {
  await main()
}

async function main(): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--serve',
      'yes',
      '--days',
      String(DAYS),
      '--big',
      String(BIG),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const url = String((await lines.next()).value)
  /** The simulator's export arrivals since the last ask (epoch ms). */
  const arrivalsSince = async (): Promise<number[]> => {
    child.stdin.write('arrivals\n')
    return JSON.parse(String((await lines.next()).value)) as number[]
  }
  const admin = async (path: string, method = 'GET'): Promise<SimulatorStats> =>
    (await fetch(`${url}${path}`, { method })).json() as Promise<SimulatorStats>
  const expectedBySite = SITES.map((site) => expectedDeals(SIM_OPTIONS, site.siteId, FIRST_DAY, LAST_DAY).length)
  const minimum = expectedBySite.reduce((sum, records) => sum + Math.ceil(records / 1000), 0)

  const runs: [string, ExtractorRun & Measured][] = []
  if (EXTRACTORS.includes('pipeline'))
    runs.push([
      'pipeline (windows, shared limiter)',
      await measure(admin, async (): Promise<ExtractorRun> => {
        const limiter = recordingQueue(createRequestLimiter({ requestsPerSecond: 5 }))
        const seen = new Map<number, number>()
        const sites: SiteConfig[] = SITES.map((site) => ({
          siteId: site.siteId,
          token: site.token,
          timeZone: 'Europe/Moscow',
          startDate: FIRST_DAY,
        }))
        const summary = await syncSites({
          db: undefined as unknown as WarehouseDb,
          runId: '0',
          sites,
          mode: { kind: 'backfill', from: FIRST_DAY, to: LAST_DAY },
          baseUrl: url,
          settings: DEFAULT_RUN_SETTINGS,
          limiter,
          loader: countingLoader(seen),
          now: new Date(`${LAST_DAY}T20:00:00Z`),
          logger: silentLogger(),
          readLedger: async () => [],
        })
        await limiter.stop()
        return {
          requests: summary.requests,
          windows: summary.windows,
          failed: summary.windowsFailed,
          seen: SITES.map((site) => seen.get(site.siteId) ?? 0),
        }
      }),
    ])
  await admin('/_sim/reset', 'POST')
  let command: CommandRun | undefined
  if (EXTRACTORS.includes('cli')) {
    await arrivalsSince()
    command = await runCommand(url)
    const arrivals = await arrivalsSince()
    command.firstArrival = arrivals[0]
    command.lastArrival = arrivals.at(-1)
    command.firstArrivalSeconds = ((arrivals[0] ?? command.exitedAt) - command.spawnedAt) / 1000
    command.afterLastArrivalSeconds = (command.exitedAt - (arrivals.at(-1) ?? command.exitedAt)) / 1000
    command.stats = await admin('/_sim/stats')
    await admin('/_sim/reset', 'POST')
  }
  if (EXTRACTORS.includes('naive'))
    runs.push([
      'naive day by day, sequential',
      await measure(admin, async (): Promise<ExtractorRun> => {
        const seen = SITES.map(() => 0)
        let requests = 0
        for (const [index, site] of SITES.entries()) {
          for (let day = FIRST_DAY; day <= LAST_DAY; day = addDays(day, 1)) {
            for (let page = 1; ; page++) {
              const query = new URLSearchParams({
                clientApiId: site.token,
                dateFrom: ddmmyyyy(day),
                dateTo: ddmmyyyy(addDays(day, 1)),
                page: String(page),
                limit: '1000',
                withOrdersTags: 'true',
                withAllOrderOrigins: 'true',
              })
              requests += 1
              const body = (await (
                await fetch(`${url}/calls-service/RestAPI/${site.siteId}/orders-diary/orders?${query.toString()}`)
              ).json()) as { pageTotal: number; records: { orderDate: string }[] }
              seen[index] =
                (seen[index] ?? 0) + body.records.filter((record) => record.orderDate.startsWith(ddmmyyyy(day))).length
              if (page >= body.pageTotal || body.records.length === 0) break
              // Public clients sleep between calls to stay under 5 a second.
              await new Promise((resolve) => setTimeout(resolve, 200))
            }
            await new Promise((resolve) => setTimeout(resolve, 200))
          }
        }
        return { requests, windows: SITES.length * DAYS, failed: 0, seen }
      }),
    ])
  child.stdin.end()

  const table = new Table({
    head: [
      'extractor',
      'requests',
      'minimum Σceil(records/1000)',
      'requests / minimum',
      'windows',
      'req/s',
      '429s',
      'max arrived in any 1 s (simulator)',
      'max sent in any 1 s (client)',
      'wall s',
      's lost: nothing queued',
      's lost: queued, sent late',
      'deals = simulator',
    ],
  })
  for (const [name, run] of runs) {
    table.push([
      name,
      run.requests,
      minimum,
      (run.requests / minimum).toFixed(2),
      run.windows,
      (run.requests / run.seconds).toFixed(2),
      run.stats.rejected429,
      run.stats.maxRequestsInAnySecond,
      run.maxSentInAnySecond,
      run.seconds.toFixed(1),
      run.starvedSeconds?.toFixed(1) ?? 'n/a',
      run.lateSeconds?.toFixed(1) ?? 'n/a',
      String(run.seen.every((count, i) => count === expectedBySite[i])),
    ])
  }
  process.stdout.write(
    `Request efficiency: ${SITES.length} sites × ${DAYS} days (${expectedBySite.join(' + ')} deals), latency 250 ± 100 ms, rate limit on\n${table.toString()}\n`,
  )
  const pipeline = runs.find(([name]) => name.startsWith('pipeline'))?.[1]
  if (pipeline !== undefined) {
    // The issue's figure: the run's wall time against the API's least, the fewest requests at 5 a second.
    const least = minimum / 5
    const breakdown = breakdownOf(requestLog, minimum)
    // The windows as asked (first pages, in the order they were handed to the limiter), with the deals each holds.
    for (const site of SITES) {
      const asked = requestLog
        .filter((request) => request.siteId === site.siteId && request.page === 1)
        .map(
          (request) =>
            `${request.dateFrom.slice(5)}..${request.dateTo.slice(5)} ${expectedDeals(SIM_OPTIONS, site.siteId, request.dateFrom, request.dateTo).length}`,
        )
      process.stdout.write(`  site ${site.siteId} windows asked: ${asked.join(', ')}\n`)
    }
    const startup = pipeline.startupSeconds
    const idle = Math.max(0, (pipeline.starvedSeconds ?? 0) - startup)
    process.stdout.write(
      `Pipeline against the API's least time (${minimum} requests ÷ 5 a second = ${least.toFixed(1)} s): wall ${pipeline.seconds.toFixed(1)} s = ${(pipeline.seconds / least).toFixed(3)} × (syncSites called to returned: planning, every request, the counting loader; no process start, no warehouse)\n` +
        `  requests above the minimum: ${pipeline.requests - minimum} = ${breakdown.cutFirstPages} first pages of windows cut smaller + ${breakdown.partialPages} pages of windows read whole (last partial pages, days asked twice) + ${breakdown.repeated} repeated (torn reads, retries)\n` +
        `  time: ${((pipeline.requests * RATE_WINDOW_MS) / 5 / 1000).toFixed(1)} s at the limiter's pace (5 per ${RATE_WINDOW_MS} ms) for ${pipeline.requests} requests; start-up before the first send ${startup.toFixed(2)} s; gaps with nothing queued ${idle.toFixed(2)} s; queued but sent late ${(pipeline.lateSeconds ?? 0).toFixed(2)} s; tail after the last send ${pipeline.tailSeconds.toFixed(2)} s\n`,
    )
  }
  if (command !== undefined) {
    const requests = command.stats?.requests.byEndpoint.export ?? 0
    process.stdout.write(
      `Command (${command.line}), spawned to exited: ${command.seconds.toFixed(1)} s = ${(command.seconds / (minimum / 5)).toFixed(3)} × the least; ${requests} requests (${(requests / minimum).toFixed(2)} × ${minimum}), exit code ${command.exitCode}, ${command.stats?.responsesByStatus['429'] ?? 0} 429s, most in any second ${command.stats?.maxRequestsInAnySecond}; spawn to the first request at the simulator ${command.firstArrivalSeconds?.toFixed(2)} s, last request to exit ${command.afterLastArrivalSeconds?.toFixed(2)} s\n` +
        `  spawn → sites planned ${seconds(command.spawnedAt, command.plannedAt)} s (node, tsx, modules, config, connection, migrations check, run lock, etl.runs, ledgers); → first request ${seconds(command.plannedAt, command.firstArrival)} s; last request → last window loaded ${seconds(command.lastArrival, command.lastLoadedAt)} s (answer, loads behind); → exit ${seconds(command.lastLoadedAt, command.exitedAt)} s (run finished, analyze, close, exit)\n`,
    )
  }
  const pipelineWindows = runs.find(([name]) => name.startsWith('pipeline'))?.[1].windows
  process.stdout.write(
    `Target: requests ≤ 1.1 × minimum + 1 per window${pipelineWindows === undefined ? '' : ` (= ${Math.floor(1.1 * minimum + pipelineWindows)})`}, ≥ 4.5 req/s, no 429, ≤ 5 in any second.\n`,
  )
  process.stdout.write(
    `Load average at the end: ${os
      .loadavg()
      .map((load) => load.toFixed(1))
      .join(', ')}\n`,
  )
  process.stdout.write(
    `Reproduce: npx tsx bench/request-efficiency.ts --days ${DAYS} --big ${BIG}${args.has('--extractors') ? ` --extractors ${EXTRACTORS.join(',')}` : ''}\n`,
  )
}

interface ExtractorRun {
  requests: number
  windows: number
  failed: number
  seen: number[]
}

/** Seconds from `from` to `to` (epoch ms), or '?' when either is unknown. */
function seconds(from: number | undefined, to: number | undefined): string {
  return from === undefined || to === undefined ? '?' : ((to - from) / 1000).toFixed(2)
}

interface CommandRun {
  line: string
  spawnedAt: number
  exitedAt: number
  seconds: number
  exitCode: number | null
  /** When the command logged its sites' planned days (epoch ms, the log's millisecond clock). */
  plannedAt: number | undefined
  /** When it logged its last window loaded. */
  lastLoadedAt: number | undefined
  firstArrival?: number
  lastArrival?: number
  firstArrivalSeconds?: number
  afterLastArrivalSeconds?: number
  stats?: SimulatorStats
}

/**
 * The real command, `calltouch-etl backfill --only deals`, of the same sites and days into a PostgreSQL
 * warehouse of its own, already migrated (an existing warehouse taking new sites): timed from spawn to exit.
 */
async function runCommand(simulatorUrl: string): Promise<CommandRun> {
  const database = `ct_bench_request_efficiency_${process.pid}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`drop database if exists ${database}`)
  await admin.query(`create database ${database}`)
  const databaseUrl = new URL(ADMIN_URL)
  databaseUrl.pathname = `/${database}`
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ct-bench-request-efficiency-'))
  const configFile = path.join(dir, 'sites.json')
  await fs.writeFile(
    configFile,
    JSON.stringify({
      sites: SITES.map((site) => ({ id: site.siteId, token: site.token, startDate: FIRST_DAY, streams: ['deals'] })),
    }),
  )
  const bin = fileURLToPath(new URL('../bin/calltouch-etl.js', import.meta.url))
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl.toString(),
    CALLTOUCH_BASE_URL: simulatorUrl,
    CALLTOUCH_ETL_STATE_DIR: dir,
    CALLTOUCH_ETL_LOG_FORMAT: 'json',
  }
  const run = (argv: string[]): Promise<{ code: number | null; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [bin, ...argv], { env, stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
      child.once('exit', (code) => {
        if (code !== 0) process.stderr.write(stderr)
        resolve({ code, stderr })
      })
    })
  try {
    await run(['migrate'])
    const argv = ['backfill', '--from', FIRST_DAY, '--to', LAST_DAY, '--only', 'deals', '--config', configFile]
    const spawnedAt = performance.timeOrigin + performance.now()
    const { code, stderr } = await run(argv)
    const exitedAt = performance.timeOrigin + performance.now()
    // The command's JSON log lines: when the sites were planned, and when the last window was loaded.
    const logged = stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { time: string; msg: string })
    const timeOf = (entry: { time: string } | undefined): number | undefined =>
      entry === undefined ? undefined : Date.parse(entry.time)
    return {
      line: `calltouch-etl ${argv.join(' ').replace(configFile, 'sites.json')}`,
      spawnedAt,
      exitedAt,
      seconds: (exitedAt - spawnedAt) / 1000,
      exitCode: code,
      plannedAt: timeOf(logged.find((entry) => entry.msg.endsWith('day(s) to read'))),
      lastLoadedAt: timeOf(logged.findLast((entry) => / deal\(s\), /.test(entry.msg))),
    }
  } finally {
    await admin.query(`drop database if exists ${database} with (force)`)
    await admin.end()
    await fs.rm(dir, { recursive: true, force: true })
  }
}

function recordingQueue(limiter: RequestLimiter): RequestLimiter {
  return {
    counters: limiter.counters,
    countRetry: () => limiter.countRetry(),
    waiting: () => limiter.waiting(),
    stop: () => limiter.stop(),
    schedule(priority, url, request) {
      const parsed = new URL(url)
      const key = `${parsed.origin}${parsed.pathname}${parsed.search}`
      pendingSince.set(key, [...(pendingSince.get(key) ?? []), performance.now()])
      const logged: LoggedRequest = {
        siteId: Number(/RestAPI\/(\d+)\//.exec(parsed.pathname)?.[1]),
        dateFrom: isoDay(parsed.searchParams.get('dateFrom') ?? ''),
        dateTo: isoDay(parsed.searchParams.get('dateTo') ?? ''),
        page: Number(parsed.searchParams.get('page')),
        answeredAt: undefined,
      }
      requestLog.push(logged)
      return limiter.schedule(priority, url, async () => {
        try {
          return await request()
        } finally {
          logged.answeredAt = performance.now()
        }
      })
    },
  }
}

interface Measured {
  seconds: number
  stats: SimulatorStats
  maxSentInAnySecond: number
  /** Seconds by which sends came later than the limiter's pace (5 per RATE_WINDOW_MS, 200 ms apart) allowed, while nothing waited to be sent. */
  starvedSeconds: number | undefined
  /** The same, while requests waited: the client's event loop, timers and the machine's load. */
  lateSeconds: number | undefined
  /** From the run's start to the first request's headers leaving. */
  startupSeconds: number
  /** From the last request's headers leaving to the run's end: its answer, the last loads. */
  tailSeconds: number
}

async function measure<T extends { requests: number }>(
  admin: (path: string, method?: string) => Promise<SimulatorStats>,
  run: () => Promise<T>,
): Promise<T & Measured> {
  // When each request's headers left this process: the client's own view of its rate.
  const sends: number[] = []
  const queuedAt: (number | undefined)[] = []
  pendingSince.clear()
  const onSend = (message: unknown): void => {
    const now = performance.now()
    const request = (message as { request?: { origin?: unknown; path?: unknown } }).request
    const key = `${String(request?.origin)}${String(request?.path)}`
    let oldest: number | undefined
    for (const times of pendingSince.values()) for (const time of times) oldest = Math.min(oldest ?? time, time)
    const times = pendingSince.get(key)
    times?.shift()
    if (times?.length === 0) pendingSince.delete(key)
    sends.push(now)
    queuedAt.push(oldest)
  }
  diagnosticsChannel.subscribe('undici:client:sendHeaders', onSend)
  const started = performance.now()
  const result = await run()
  const ended = performance.now()
  const seconds = (ended - started) / 1000
  diagnosticsChannel.unsubscribe('undici:client:sendHeaders', onSend)
  let maxSentInAnySecond = 0
  for (let last = 0, first = 0; last < sends.length; last++) {
    while ((sends[first] as number) <= (sends[last] as number) - 1000) first++
    maxSentInAnySecond = Math.max(maxSentInAnySecond, last - first + 1)
  }
  let starvedMs = 0
  let lateMs = 0
  for (const [i, sentAt] of sends.entries()) {
    const earliest = Math.max(
      started,
      (sends[i - 1] ?? started) + 200,
      (sends[i - 5] ?? started - RATE_WINDOW_MS) + RATE_WINDOW_MS,
    )
    const lost = Math.max(0, sentAt - earliest)
    const starved = Math.min(lost, Math.max(0, (queuedAt[i] ?? sentAt) - earliest))
    starvedMs += starved
    lateMs += lost - starved
  }
  const recorded = queuedAt.some((time) => time !== undefined)
  return {
    ...result,
    seconds,
    stats: await admin('/_sim/stats'),
    maxSentInAnySecond,
    starvedSeconds: recorded ? starvedMs / 1000 : undefined,
    lateSeconds: recorded ? lateMs / 1000 : undefined,
    startupSeconds: ((sends[0] ?? ended) - started) / 1000,
    tailSeconds: (ended - (sends.at(-1) ?? ended)) / 1000,
  }
}

/** Counts in-window deals per day as the load would, writing nothing. */
function countingLoader(seen: Map<number, number>): WindowLoader {
  return {
    async loadWindow(_db, window) {
      const recordsByDay: Record<string, number> = {}
      for (let day = window.firstDay; day <= window.lastDay; day = addDays(day, 1)) recordsByDay[day] = 0
      const numbers = new Set<string>()
      for (const page of window.pages) {
        for (const record of (
          JSON.parse(Buffer.from(page).toString('utf8')) as { records: { orderNumber: string; orderDate: string }[] }
        ).records) {
          const [d, m, y] = record.orderDate.slice(0, 10).split('/')
          const day = `${y}-${m}-${d}`
          if (day in recordsByDay && !numbers.has(record.orderNumber)) {
            numbers.add(record.orderNumber)
            recordsByDay[day] = (recordsByDay[day] ?? 0) + 1
          }
        }
      }
      seen.set(window.siteId, (seen.get(window.siteId) ?? 0) + numbers.size)
      return { seen: numbers.size, landed: 0, changed: 0, rejected: 0, removed: 0, recordsByDay }
    },
    async recordWindowFailure(_db, failure) {
      process.stderr.write(
        `window failed: ${failure.siteId} ${failure.firstDay}..${failure.lastDay}: ${failure.error}\n`,
      )
    },
  }
}

/** `dd/mm/yyyy` as `yyyy-mm-dd`. */
function isoDay(ddmmyyyyDay: string): string {
  const [d, m, y] = ddmmyyyyDay.split('/')
  return `${y}-${m}-${d}`
}

/** Where the pipeline's requests above the minimum went, from the requests it made and what the simulator serves. */
interface RequestBreakdown {
  /** First pages of windows found too big (the probe's included): read for nothing. */
  cutFirstPages: number
  /** Pages of windows read whole beyond Σ ceil(site deals / 1000): last partial pages, days asked twice. */
  partialPages: number
  /** Requests beyond what the windows read whole needed: torn reads repeated, retries. */
  repeated: number
}

function breakdownOf(log: readonly LoggedRequest[], minimum: number): RequestBreakdown {
  const windows = new Map<
    string,
    { siteId: number; dateFrom: string; dateTo: string; requests: number; pages: number }
  >()
  for (const request of log) {
    const key = `${request.siteId} ${request.dateFrom} ${request.dateTo}`
    const window = windows.get(key) ?? { ...request, requests: 0, pages: 0 }
    window.requests += 1
    window.pages = Math.max(window.pages, request.page)
    windows.set(key, window)
  }
  let cutFirstPages = 0
  let wholePages = 0
  let repeated = 0
  for (const window of windows.values()) {
    // The simulator's dateTo includes its day (its default), as the pipeline learns.
    const records = expectedDeals(SIM_OPTIONS, window.siteId, window.dateFrom, window.dateTo).length
    const needed = Math.max(1, Math.ceil(records / 1000))
    if (window.pages < needed) {
      cutFirstPages += window.requests
      continue
    }
    wholePages += needed
    repeated += window.requests - needed
  }
  return { cutFirstPages, partialPages: wholePages - minimum, repeated }
}

function ddmmyyyy(day: string): string {
  const [y, m, d] = day.split('-')
  return `${d}/${m}/${y}`
}
