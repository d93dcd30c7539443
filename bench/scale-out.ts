/**
 * Issue 19, scale-out: many simulated sites (default 300: 250 small, 45 medium, 5 large) read by
 * `calltouch-etl worker` processes, 1 worker on 127.0.0.1, then 2 on 127.0.0.1-2, then 3 on
 * 127.0.0.1-3 (one per address, their limit shared in Redis as in production), each configuration
 * into a new PostgreSQL database: a first backfill of 90 days (`backfill --distributed`), then a
 * 30-day nightly (`sync --distributed` with lookbackDays 30 at the same clock: today and the 29 days
 * before it, today being a day the backfill did not read). The simulator runs in a child process of
 * its own (this file with `--serve`), rate limit on (5 a second + 5 queued per client address),
 * latency 250 ± 100 ms.
 *
 * Per configuration and run: wall time (the coordinator's process from spawn to exit), requests by
 * the simulator's count against the least the API allows (Σ over sites of max(1, ⌈deals / 1000⌉)),
 * requests per second per address (its requests over the wall time), 429s and the most requests in
 * any second per address by the simulator's count, and the speed-up per added address,
 * (wall with 1) / (wall with N) / N. After both runs the warehouse must hold exactly the
 * simulator's deals (each site's order numbers and statuses). The load average is sampled every 5 s.
 * Also: requests per site by size (the simulator's count by site), and, from a probe loaded into
 * each worker that stamps its requests' headers leaving, the most each address sent in any second
 * (beside what the simulator counted, with its event loop's delay) and each run's start-up, sending
 * time and tail.
 *
 *   npx tsx bench/scale-out.ts [--addresses 1,2,3] [--small 250] [--medium 45] [--large 5]
 *     [--small-deals 3] [--medium-deals 30] [--large-deals 300] [--backfill-days 90]
 *     [--nightly-days 30] [--concurrency 2] [--chunk-days 90] [--seed 19]
 */
import { spawn } from 'node:child_process'
import diagnosticsChannel from 'node:diagnostics_channel'
import type { IncomingMessage } from 'node:http'
import fs from 'node:fs/promises'
import os from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { addDays, todayIn } from '../pipelines/core/day.ts'
import { expectedDeals, type SimulatorOptions, type SimulatorStats } from '../simulator/index.ts'
import { RATE_WINDOW_MS } from '../pipelines/http/request-limiter.ts'
import {
  cliEnv,
  createBenchDatabase,
  mostInAnyWindow,
  sendProbe,
  spawnCli,
  type CliExit,
  type CliProcess,
  type ProbedSends,
} from './cli-process.ts'

const { values: args } = parseArgs({
  options: {
    addresses: { type: 'string', default: '1,2,3' },
    small: { type: 'string', default: '250' },
    medium: { type: 'string', default: '45' },
    large: { type: 'string', default: '5' },
    'small-deals': { type: 'string', default: '3' },
    'medium-deals': { type: 'string', default: '30' },
    'large-deals': { type: 'string', default: '300' },
    'backfill-days': { type: 'string', default: '90' },
    'nightly-days': { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '2' },
    'chunk-days': { type: 'string', default: '90' },
    seed: { type: 'string', default: '19' },
    serve: { type: 'boolean', default: false },
    /** The simulator process's clock: the bench's start, handed over by the bench. */
    'sim-now': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (args.help) {
  process.stdout.write(
    'Usage: npx tsx bench/scale-out.ts [--addresses 1,2,3] [--small 250] [--medium 45] [--large 5] [--small-deals 3] [--medium-deals 30] [--large-deals 300] [--backfill-days 90] [--nightly-days 30] [--concurrency 2] [--chunk-days 90] [--seed 19]\n',
  )
  process.exit(0)
}

const ADDRESS_COUNTS = (args.addresses ?? '1,2,3').split(',').map(Number)
const SIZES = [
  { size: 'large', sites: Number(args.large), dealsPerDay: Number(args['large-deals']) },
  { size: 'medium', sites: Number(args.medium), dealsPerDay: Number(args['medium-deals']) },
  { size: 'small', sites: Number(args.small), dealsPerDay: Number(args['small-deals']) },
] as const
type Size = (typeof SIZES)[number]['size']
const BACKFILL_DAYS = Number(args['backfill-days'])
const NIGHTLY_DAYS = Number(args['nightly-days'])
/** Deals only: see bench/RESULTS.md for why, and the sizing rule for what calls and requests add. */
const STREAMS = ['deals']
const CONCURRENCY = Number(args.concurrency)
const CHUNK_DAYS = Number(args['chunk-days'])
const SEED = Number(args.seed)
const TOKEN = 'bench-scale-out-token'
const ZONE = 'Europe/Moscow'
/**
 * The simulator's clock is the bench's start: the commands plan their days by the real clock (a
 * nightly's today is the machine's), so the simulator serves deals up to now. The backfill ends
 * the day before today; the nightly reads today too, a day the backfill did not read.
 */
const NOW = args['sim-now'] ?? new Date().toISOString()
const TODAY = todayIn(ZONE, new Date(NOW))
const LAST_BACKFILL_DAY = addDays(TODAY, -1)
const FIRST_BACKFILL_DAY = addDays(LAST_BACKFILL_DAY, 1 - BACKFILL_DAYS)
const FIRST_NIGHTLY_DAY = addDays(TODAY, 1 - NIGHTLY_DAYS)
const PAGE = 1000
const REDIS_URL = process.env.CALLTOUCH_ETL_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Large sites first: the configuration's order is the queue's, and a big site's job last would be the run's tail. */
const SITES = SIZES.flatMap(({ size, sites, dealsPerDay }, index) =>
  Array.from({ length: sites }, (_, i) => ({ siteId: 190_000 + index * 10_000 + i, size, dealsPerDay })),
)
const SIM_OPTIONS: SimulatorOptions = {
  port: 0,
  seed: SEED,
  now: NOW,
  timeZone: ZONE,
  latencyMs: 150,
  latencyJitterMs: 200,
  sites: SITES.map(({ siteId, dealsPerDay }) => ({ siteId, token: TOKEN, dealsPerDay })),
}

if (args.serve) {
  // The simulator's process: its URL first, then, for each line the bench writes, the requests
  // each site received since the last such line and its event loop's delay (one JSON line); stdin's end stops it.
  const { startSimulator } = await import('../simulator/index.ts')
  const sim = await startSimulator(SIM_OPTIONS)
  const bySite = new Map<number, number>()
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  loopDelay.enable()
  diagnosticsChannel.subscribe('http.server.request.start', (message) => {
    const site = /\/RestAPI\/(\d+)\//.exec((message as { request: IncomingMessage }).request.url ?? '')?.[1]
    if (site !== undefined) bySite.set(Number(site), (bySite.get(Number(site)) ?? 0) + 1)
  })
  process.stdout.write(`${sim.url}\n`)
  const commands = readline.createInterface({ input: process.stdin })
  commands.on('line', () => {
    const report: SimulatorReport = {
      bySite: Object.fromEntries(bySite),
      loopDelayMaxMs: loopDelay.max / 1e6,
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    }
    process.stdout.write(`${JSON.stringify(report)}\n`)
    bySite.clear()
    loopDelay.reset()
  })
  commands.on('close', () => void sim.close().then(() => process.exit(0)))
} else {
  await main()
}

/** What the simulator's process says of itself since its last report. */
interface SimulatorReport {
  /** API requests by site id. */
  readonly bySite: Readonly<Record<string, number>>
  readonly loopDelayMaxMs: number
  readonly loopDelayP99Ms: number
}

/** One coordinator run (backfill or nightly) of one configuration. */
interface RunFigures {
  readonly wallMs: number
  /** Epoch ms: the coordinator's spawn and exit. */
  readonly startedAt: number
  readonly exit: CliExit
  readonly result: {
    ok: boolean
    deals: { days: number; requests: number; retries: number; windows: number; windowsFailed: number }
  }
  readonly stats: SimulatorStats
  /** By the simulator's count, and its event loop's delay meanwhile. */
  readonly simulator: SimulatorReport
  /** Load average (1 min) sampled while it ran. */
  readonly loads: readonly number[]
}

interface Configuration {
  readonly addresses: readonly string[]
  readonly backfill: RunFigures
  readonly nightly: RunFigures
  readonly check: string
  readonly jobsByWorker: readonly number[]
  /** What each worker (one per address, in order) recorded of its own sends. */
  readonly sent: readonly (ProbedSends | undefined)[]
}

async function main(): Promise<void> {
  const loadAtStart = os.loadavg()
  const simulator = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...serveArgs()], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = readline.createInterface({ input: simulator.stdout })[Symbol.asyncIterator]()
  const nextLine = async (): Promise<string> => String((await lines.next()).value ?? '')
  const url = await nextLine()
  const sim: SimulatorControl = {
    url,
    stats: async () => (await fetch(`${url}/_sim/stats`)).json() as Promise<SimulatorStats>,
    reset: async () => {
      await fetch(`${url}/_sim/reset`, { method: 'POST' })
      simulator.stdin.write('\n')
      await nextLine()
    },
    report: async () => {
      simulator.stdin.write('\n')
      return JSON.parse(await nextLine()) as SimulatorReport
    },
  }
  const configurations: Configuration[] = []
  const startedAt = Date.now()
  try {
    for (const count of ADDRESS_COUNTS) {
      const addresses = Array.from({ length: count }, (_, i) => `127.0.0.${i + 1}`)
      configurations.push(await runConfiguration(sim, addresses))
    }
  } finally {
    simulator.stdin.end()
    await new Promise((resolve) => simulator.once('exit', resolve))
  }
  report(configurations, loadAtStart, Date.now() - startedAt)
}

/** The bench's own arguments, for the simulator's process to build the same sites. */
function serveArgs(): string[] {
  return [...process.argv.slice(2), '--serve', '--sim-now', NOW]
}

/** The simulator's process, seen from the bench. */
interface SimulatorControl {
  readonly url: string
  stats(): Promise<SimulatorStats>
  /** Zeroes its counts (and rate-limit history), the requests by site included. */
  reset(): Promise<void>
  /** Requests each site received, and its event loop's delay, since the last reset or report. */
  report(): Promise<SimulatorReport>
}

async function runConfiguration(sim: SimulatorControl, addresses: readonly string[]): Promise<Configuration> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'calltouch-etl-bench-scale-out-'))
  const database = await createBenchDatabase('ct_bench_scale_out')
  const config = path.join(dir, 'sites.json')
  await fs.writeFile(
    config,
    JSON.stringify({
      baseUrl: sim.url,
      lookbackDays: NIGHTLY_DAYS,
      timeoutMs: 30_000,
      sites: SITES.map(({ siteId }) => ({
        id: siteId,
        token: TOKEN,
        timeZone: ZONE,
        startDate: FIRST_BACKFILL_DAY,
        streams: STREAMS,
      })),
    }),
  )
  const env = cliEnv({
    DATABASE_URL: database.url,
    CALLTOUCH_ETL_REDIS_URL: REDIS_URL,
    CALLTOUCH_ETL_STATE_DIR: path.join(dir, 'state'),
    CALLTOUCH_ETL_LOG_FORMAT: 'json',
    CALLTOUCH_ETL_LOG_LEVEL: 'warn',
  })
  const workers: CliProcess[] = []
  const probe = await sendProbe(dir)
  try {
    const migrated = await spawnCli(['migrate'], env, dir).exited
    if (migrated.code !== 0) throw new Error(`migrate failed: ${migrated.stderr.slice(-2000)}`)
    // One at a time, each ready before the next: the first sets up the job queue.
    for (const address of addresses) {
      const worker = spawnCli(
        ['worker', '--config', config, '--egress-address', address, '--concurrency', String(CONCURRENCY)],
        { ...env, ...probe.env, CALLTOUCH_ETL_LOG_LEVEL: 'info' },
        dir,
        probe.nodeArgs,
      )
      workers.push(worker)
      await worker.waitForStderr((stderr) => stderr.includes('worker ready'))
    }
    const distributed = ['--distributed', '--chunk-days', String(CHUNK_DAYS), '--config', config, '--json']
    await sim.reset()
    const backfill = await coordinate(
      ['backfill', ...distributed, '--from', FIRST_BACKFILL_DAY, '--to', LAST_BACKFILL_DAY],
      env,
      dir,
      sim,
    )
    await sim.reset()
    const nightly = await coordinate(['sync', ...distributed], env, dir, sim)
    const running = workers.splice(0)
    const stopped = await stopWorkers(running)
    const sent = await Promise.all(running.map((worker) => probe.read(worker.pid)))
    const check = await checkWarehouse(database.url)
    return { addresses, backfill, nightly, check, jobsByWorker: stopped, sent }
  } finally {
    await stopWorkers(workers)
    await database.drop()
    await fs.rm(dir, { recursive: true, force: true })
  }
}

/** Runs one coordinator to its end, sampling the load, and takes the simulator's count of its requests. */
async function coordinate(
  command: readonly string[],
  env: Record<string, string>,
  dir: string,
  sim: SimulatorControl,
): Promise<RunFigures> {
  const loads = [os.loadavg()[0] ?? 0]
  const sampler = setInterval(() => loads.push(os.loadavg()[0] ?? 0), 5000)
  const run = spawnCli(command, env, dir)
  const exit = await run.exited
  clearInterval(sampler)
  loads.push(os.loadavg()[0] ?? 0)
  const stats = await sim.stats()
  const simulator = await sim.report()
  const line = exit.stdout.trim().split('\n').at(-1) ?? ''
  let result: RunFigures['result']
  try {
    result = JSON.parse(line) as RunFigures['result']
  } catch {
    throw new Error(`${command[0]} printed no summary (exit ${exit.code}): ${exit.stderr.slice(-3000)}`)
  }
  return { wallMs: exit.endedAt - run.startedAt, startedAt: run.startedAt, exit, result, stats, simulator, loads }
}

/** Stops the workers (SIGTERM: they finish what they hold) and returns the jobs each says it completed. */
async function stopWorkers(workers: readonly CliProcess[]): Promise<number[]> {
  for (const worker of workers) worker.kill('SIGTERM')
  const ended = await Promise.all(workers.map((worker) => worker.exited))
  return ended.map((exit) => Number(/worker: (\d+) job\(s\) completed/.exec(exit.stdout)?.[1] ?? -1))
}

/** 'exact' when every site holds the simulator's deals of the backfill's first day to today, by order number and status. */
async function checkWarehouse(databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ site_id: number; order_number: string; status: string | null }>(
      'select site_id, order_number, status from calltouch.orders',
    )
    const held = new Map<number, Map<string, string | null>>()
    for (const row of rows) {
      const site = held.get(row.site_id) ?? new Map<string, string | null>()
      site.set(row.order_number, row.status)
      held.set(row.site_id, site)
    }
    let expected = 0
    let missing = 0
    let wrongStatus = 0
    for (const { siteId } of SITES) {
      const site = held.get(siteId) ?? new Map<string, string | null>()
      for (const deal of expectedDeals(SIM_OPTIONS, siteId, FIRST_BACKFILL_DAY, TODAY)) {
        expected++
        if (!site.has(deal.orderNumber)) missing++
        else if (site.get(deal.orderNumber) !== deal.orderStatus) wrongStatus++
      }
    }
    const extra = rows.length - (expected - missing)
    return missing === 0 && wrongStatus === 0 && extra === 0
      ? `exact (${expected.toLocaleString('en-US')} deals)`
      : `NOT exact: ${rows.length} held of ${expected}: ${missing} missing, ${extra} extra, ${wrongStatus} with another status`
  } finally {
    await client.end()
  }
}

/** The fewest requests the API allows for deals of `from..to`: per site max(1, ⌈deals / 1000⌉). */
function leastRequests(from: string, to: string): { total: number; deals: number; bySite: Map<number, number> } {
  const bySite = new Map<number, number>()
  let deals = 0
  for (const { siteId } of SITES) {
    const records = expectedDeals(SIM_OPTIONS, siteId, from, to).length
    deals += records
    bySite.set(siteId, Math.max(1, Math.ceil(records / PAGE)))
  }
  return { total: [...bySite.values()].reduce((sum, n) => sum + n, 0), deals, bySite }
}

/** The mean over the sites of a size of `of(siteId)`. */
function meanOverSize(size: Size, of: (siteId: number) => number): number {
  const sites = SITES.filter((site) => site.size === size)
  return sites.reduce((sum, site) => sum + of(site.siteId), 0) / Math.max(1, sites.length)
}

function report(configurations: readonly Configuration[], loadAtStart: readonly number[], benchMs: number): void {
  const least = {
    backfill: leastRequests(FIRST_BACKFILL_DAY, LAST_BACKFILL_DAY),
    nightly: leastRequests(FIRST_NIGHTLY_DAY, TODAY),
  }
  const seconds = (ms: number): string => (ms / 1000).toFixed(1)
  const fmt = (n: number): string => n.toLocaleString('en-US')
  const out: string[] = [
    `Scale-out: ${SITES.length} sites (${SIZES.map((s) => `${s.sites} ${s.size} at ${s.dealsPerDay} deals/day`).join(', ')}), streams ${STREAMS.join(', ')}; backfill ${FIRST_BACKFILL_DAY}..${LAST_BACKFILL_DAY} (${BACKFILL_DAYS} days), nightly \`sync\` ${FIRST_NIGHTLY_DAY}..${TODAY} (${NIGHTLY_DAYS} days, lookbackDays ${NIGHTLY_DAYS}); seed ${SEED}`,
    `Simulator in a child process: 5 requests/s + 5 queued per client address, latency 250 ± 100 ms. Workers: one per address, --concurrency ${CONCURRENCY}, limit shared in Redis; coordinator --chunk-days ${CHUNK_DAYS}; PostgreSQL warehouse, a new database per configuration.`,
    '',
    '| run | addresses | wall (s) | requests | least | requests / least | requests/s per address | 429s | most in any second, per address | speed-up per added address | load (1 min) while running |',
    '|---|--:|--:|--:|--:|--:|---|--:|---|--:|---|',
  ]
  for (const run of ['backfill', 'nightly'] as const) {
    const base = configurations.find((c) => c.addresses.length === 1)?.[run]
    for (const configuration of configurations) {
      const figures = configuration[run]
      const n = configuration.addresses.length
      const byAddress = configuration.addresses.map((address) => figures.stats.byAddress[address])
      const wallS = figures.wallMs / 1000
      const rejected = Object.values(figures.stats.byAddress).reduce((sum, a) => sum + a.rejected429, 0)
      const speedUp = base === undefined ? '—' : (base.wallMs / figures.wallMs / n).toFixed(2)
      out.push(
        `| ${run} | ${n} | ${seconds(figures.wallMs)} | ${fmt(figures.stats.requests.total)} | ${fmt(least[run].total)} | ${(figures.stats.requests.total / least[run].total).toFixed(2)} | ${byAddress.map((a) => ((a?.requests ?? 0) / wallS).toFixed(2)).join(' / ')} | ${rejected} | ${byAddress.map((a) => a?.maxRequestsInAnySecond ?? 0).join(' / ')} | ${speedUp} | ${Math.min(...figures.loads).toFixed(1)}–${Math.max(...figures.loads).toFixed(1)} |`,
      )
    }
  }
  out.push(
    '',
    "Requests per site by size (the simulator's count by site, mean over the sites of the size):",
    '',
    `| run | size | sites | deals per site | least per site | requests per site (${configurations.map((c) => c.addresses.length).join(' / ')} addresses) |`,
    '|---|---|--:|--:|--:|---|',
  )
  for (const run of ['backfill', 'nightly'] as const) {
    const [from, to] = run === 'backfill' ? [FIRST_BACKFILL_DAY, LAST_BACKFILL_DAY] : [FIRST_NIGHTLY_DAY, TODAY]
    for (const { size, sites } of SIZES) {
      if (sites === 0) continue
      const deals = meanOverSize(size, (siteId) => expectedDeals(SIM_OPTIONS, siteId, from, to).length)
      const leastPerSite = meanOverSize(size, (siteId) => least[run].bySite.get(siteId) ?? 0)
      const measured = configurations.map((c) =>
        meanOverSize(size, (siteId) => c[run].simulator.bySite[String(siteId)] ?? 0).toFixed(2),
      )
      out.push(
        `| ${run} | ${size} | ${sites} | ${deals.toFixed(0)} | ${leastPerSite.toFixed(2)} | ${measured.join(' / ')} |`,
      )
    }
  }
  out.push(
    '',
    `Where the most in any second comes from: the workers' own sends (headers leaving, by a probe loaded with --import) against the simulator's arrivals; the limiter counts 5 per ${RATE_WINDOW_MS} ms of sends:`,
    '',
    `| run | addresses | most in any second at the simulator | sent in any 1,000 ms (workers) | sent in any ${RATE_WINDOW_MS} ms (workers) | simulator's event loop delay max / p99 (ms) |`,
    '|---|--:|---|---|---|---|',
  )
  const phases: string[] = [
    '',
    "Where the wall time goes, by the workers' sends: start-up (the coordinator's spawn to the first request: its start, planning, enqueuing, the workers' first poll), sending (first to last request), tail (last request to the coordinator's exit); the rate while sending per address:",
    '',
    '| run | addresses | start-up (s) | sending (s) | tail (s) | requests/s per address while sending |',
    '|---|--:|--:|--:|--:|---|',
  ]
  for (const run of ['backfill', 'nightly'] as const) {
    for (const c of configurations) {
      const figures = c[run]
      const sendsOf = (probed: ProbedSends | undefined): number[] =>
        (probed?.sends ?? [])
          .filter((at) => at >= figures.startedAt && at <= figures.exit.endedAt)
          .sort((a, b) => a - b)
      const all = c.sent.flatMap(sendsOf).sort((a, b) => a - b)
      const first = all[0] ?? figures.startedAt
      const last = all.at(-1) ?? figures.exit.endedAt
      const sendingS = Math.max(0.001, (last - first) / 1000)
      phases.push(
        `| ${run} | ${c.addresses.length} | ${seconds(first - figures.startedAt)} | ${sendingS.toFixed(1)} | ${seconds(figures.exit.endedAt - last)} | ${c.sent.map((p) => (sendsOf(p).length / sendingS).toFixed(2)).join(' / ')} |`,
      )
      out.push(
        `| ${run} | ${c.addresses.length} | ${c.addresses.map((a) => figures.stats.byAddress[a]?.maxRequestsInAnySecond ?? 0).join(' / ')} | ${c.sent.map((p) => mostInAnyWindow(sendsOf(p), 1000)).join(' / ')} | ${c.sent.map((p) => mostInAnyWindow(sendsOf(p), RATE_WINDOW_MS)).join(' / ')} | ${figures.simulator.loopDelayMaxMs.toFixed(0)} / ${figures.simulator.loopDelayP99Ms.toFixed(0)} |`,
      )
    }
  }
  out.push(...phases, '', 'Per configuration:')
  for (const c of configurations) {
    const addressesSeen = [
      ...new Set([...Object.keys(c.backfill.stats.byAddress), ...Object.keys(c.nightly.stats.byAddress)]),
    ]
    out.push(
      `- ${c.addresses.length} address(es): warehouse = simulator: ${c.check}; jobs completed by worker: ${c.jobsByWorker.join(', ')}; workers' event loop delay max / p99: ${c.sent.map((p) => (p === undefined ? '—' : `${p.loopDelayMaxMs.toFixed(0)} / ${p.loopDelayP99Ms.toFixed(0)} ms`)).join(', ')}; addresses seen by the simulator: ${addressesSeen.join(', ')}; backfill exit ${c.backfill.exit.code} ok ${c.backfill.result.ok} (${c.backfill.result.deals.days} days read, run's own count ${c.backfill.result.deals.requests} requests, ${c.backfill.result.deals.retries} retries, ${c.backfill.result.deals.windowsFailed} windows failed); nightly exit ${c.nightly.exit.code} ok ${c.nightly.result.ok} (${c.nightly.result.deals.days} days read, ${c.nightly.result.deals.requests} requests, ${c.nightly.result.deals.retries} retries, ${c.nightly.result.deals.windowsFailed} windows failed)`,
    )
  }
  out.push(
    '',
    `Least: backfill ${fmt(least.backfill.total)} (${fmt(least.backfill.deals)} deals), nightly ${fmt(least.nightly.total)} (${fmt(least.nightly.deals)} deals): per site max(1, ⌈deals / 1000⌉)`,
    `Load average (1 min, 5 min, 15 min) at the start: ${loadAtStart.map((load) => load.toFixed(2)).join(', ')}; at the end: ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(', ')}; ${os.cpus().length} CPUs; the whole bench ${seconds(benchMs)} s`,
    `Reproduce: npx tsx bench/scale-out.ts --addresses ${ADDRESS_COUNTS.join(',')} --small ${args.small} --medium ${args.medium} --large ${args.large} --small-deals ${args['small-deals']} --medium-deals ${args['medium-deals']} --large-deals ${args['large-deals']} --backfill-days ${BACKFILL_DAYS} --nightly-days ${NIGHTLY_DAYS} --concurrency ${CONCURRENCY} --chunk-days ${CHUNK_DAYS} --seed ${SEED}`,
  )
  process.stdout.write(`${out.join('\n')}\n`)
  const failed = configurations.some(
    (c) => !c.check.startsWith('exact') || c.backfill.exit.code !== 0 || c.nightly.exit.code !== 0,
  )
  process.exitCode = failed ? 1 : 0
}
