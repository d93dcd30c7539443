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
 *   npx tsx bench/request-efficiency.ts [--days 60] [--big 2500] [--extractors pipeline,naive]
 */
import { spawn } from 'node:child_process'
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
const SIM_OPTIONS: SimulatorOptions = { seed: 7, sites: SITES, latencyMs: 150, latencyJitterMs: 200 }

if (args.has('--serve')) {
  const { startSimulator } = await import('../simulator/index.ts')
  const sim = await startSimulator({ ...SIM_OPTIONS, port: 0 })
  process.stdout.write(`${sim.url}\n`)
  process.stdin.resume()
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
  const url = await new Promise<string>((resolve) =>
    child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())),
  )
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
      return limiter.schedule(priority, url, request)
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
  const seconds = (performance.now() - started) / 1000
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

function ddmmyyyy(day: string): string {
  const [y, m, d] = day.split('-')
  return `${d}/${m}/${y}`
}
