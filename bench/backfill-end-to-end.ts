/**
 * Issue 7 §2 and §3 end to end: a backfill of N simulated deals through the product's own
 * path — `syncSites` with the window planner, the shared request limiter (5 requests a second,
 * the vendor's limit, which the product never exceeds) and `loadWindow` into a fresh warehouse —
 * then the same backfill again with nothing changed.
 *
 * What `calltouch-etl backfill` does is repeated here in-process (open the warehouse, migrate,
 * take the run lock, record the run in etl.runs, syncSites, finish the run, close), with one
 * difference: the loader handed to syncSites wraps `loadWindow` to time it, so land + normalize
 * is measured inside the same run (summed over windows; with `--load-concurrency` above 1,
 * windows load side by side, so the sum can pass the wall time). The simulator (rate limit and latency off) runs in a child
 * process of its own, started afresh for each engine so both read cold days; each engine runs in
 * a process of its own too, under `/usr/bin/time -v` when it is installed, so peak RSS is that
 * engine's work process (PostgreSQL's server memory is not in it; PGlite's database is). The work
 * process gets the node flags of the command's own shebang (its heap cap), as `npx calltouch-etl` would.
 *
 * Rows written: on PostgreSQL the deltas of n_tup_ins / n_tup_upd / n_tup_del of the raw and
 * calltouch schemas in pg_stat_user_tables (read after the pass's backends exited, so their
 * statistics are flushed); on both engines the rows whose xmin is from the pass. CPU time is
 * this process plus the PostgreSQL backends of the bench database (from /proc): on a shared
 * machine it is steadier than the wall clock.
 *
 * `--deals / --days` is the simulator's mean deals a day; its weekly rhythm and empty days
 * serve about 0.87 of `--deals` (874,071 for 1,000,000 over 90 days). The table reports the
 * deals actually read.
 *
 * Requests are compared with issue 7's limit: 1.1 × Σ ceil(records / 1000) + 1 per window,
 * the minimum taken from the deals read (one site, so one sum).
 *
 *   npx tsx bench/backfill-end-to-end.ts [--deals 200000] [--days 90] [--engine postgres|pglite]
 *     [--load-concurrency 2] [--page-budget 64]
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { addDays } from '../pipelines/core/day.ts'
import { loadWindow, recordWindowFailure } from '../pipelines/sources/calltouch-deals/load-window.ts'
import { createRequestLimiter } from '../pipelines/http/request-limiter.ts'
import {
  DEFAULT_LOAD_CONCURRENCY,
  DEFAULT_PAGE_BUDGET,
  syncSites,
  type SyncSummary,
  type WindowLoader,
} from '../pipelines/sources/calltouch-deals/sync-sites.ts'
import type { WarehouseConfig } from '../pipelines/core/config.ts'
import { silentLogger } from '../pipelines/core/logger.ts'
import { DEFAULT_RUN_SETTINGS, type SiteConfig } from '../pipelines/sources/calltouch-deals/config.ts'
import { executeSql, openWarehouse, type Warehouse } from '../pipelines/warehouse/connection.ts'
import { migrateToLatest } from '../pipelines/warehouse/migrator.ts'
import { finishRun, startRun } from '../pipelines/warehouse/run-ledger.ts'
import { withRunLock } from '../pipelines/warehouse/run-lock.ts'
import { backendCpu, backendCpuSince } from './backend-cpu.ts'
import type { SimulatorOptions } from '../simulator/index.ts'

const SITE_ID = 24680
const TOKEN = 'bench-backfill-token'
const TIME_ZONE = 'Europe/Moscow'
/** The day before the simulator's default clock (2026-11-29). */
const LAST_DAY = '2026-11-28'
const ENGINES = ['postgres', 'pglite'] as const
type BenchEngine = (typeof ENGINES)[number]
const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const RAW_TABLES = ['raw.calltouch_orders'] as const
const NORMALIZED_TABLES = [
  'calltouch.orders',
  'calltouch.sources',
  'calltouch.visits',
  'calltouch.custom_fields',
  'calltouch.tags',
] as const
const TIME_BINARY = '/usr/bin/time'

const { values: args } = parseArgs({
  options: {
    deals: { type: 'string', default: '200000' },
    days: { type: 'string', default: '90' },
    engine: { type: 'string' },
    'load-concurrency': { type: 'string', default: String(DEFAULT_LOAD_CONCURRENCY) },
    'page-budget': { type: 'string', default: String(DEFAULT_PAGE_BUDGET) },
    help: { type: 'boolean', short: 'h', default: false },
    /** Internal: serve the simulator and print its URL. */
    serve: { type: 'boolean', default: false },
    /** Internal: run the two passes of one engine against this simulator URL, print JSON. */
    url: { type: 'string' },
  },
})
const USAGE = `Usage: npx tsx bench/backfill-end-to-end.ts [options]

A backfill of one simulated site through syncSites and loadWindow, then the same backfill
again with nothing changed; prints deals/s, requests against issue 7's limit, CPU, rows
written and peak RSS per engine.

  --deals N             simulator mean deals a day × --days (it serves about 0.87 of it); default 200000
  --days N              days of the backfill, ending ${LAST_DAY}; default 90
  --engine E            postgres or pglite; default both, one after the other
  --load-concurrency N  windows loading at once (syncSites loadConcurrency); default ${DEFAULT_LOAD_CONCURRENCY}
  --page-budget N       pages held in memory at once (syncSites pageBudget); default ${DEFAULT_PAGE_BUDGET}
  -h, --help            this text`
if (args.help) {
  console.log(USAGE)
  process.exit(0)
}
const targetDeals = Number(args.deals)
const loadConcurrency = Number(args['load-concurrency'])
const pageBudget = Number(args['page-budget'])
const days = Number(args.days)
const firstDay = addDays(LAST_DAY, 1 - days)
const dealsPerDay = Math.max(1, Math.round(targetDeals / days))
const simulatorOptions: SimulatorOptions = {
  seed: 11,
  sites: [{ siteId: SITE_ID, token: TOKEN, dealsPerDay }],
  rateLimit: false,
  latencyMs: 0,
  latencyJitterMs: 0,
}

interface RowsWritten {
  rawInserted: number
  rawUpdated: number
  rawDeleted: number
  normalizedInserted: number
  normalizedUpdated: number
  normalizedDeleted: number
}

interface PassResult {
  name: string
  seconds: number
  /** Time spent inside loadWindow (land + normalize), summed over windows. */
  loadSeconds: number
  /** CPU seconds of the work process and of the PostgreSQL backends serving it. */
  processCpuSeconds: number
  serverCpuSeconds: number
  summary: Omit<SyncSummary, 'failures'> & { failures: number }
  /** From pg_stat_user_tables deltas (PostgreSQL only). */
  statRows: RowsWritten | undefined
  /** Rows of raw / calltouch tables whose xmin is from the pass. */
  xminRaw: number
  xminNormalized: number
  rawRows: number
  normalizedRows: number
  maxRssMb: number
}

interface EngineResult {
  engine: BenchEngine
  passes: PassResult[]
  /** Peak RSS of the work process as /usr/bin/time -v saw it (undefined without it). */
  timeMaxRssMb?: number
}

async function adminQuery<T extends pg.QueryResultRow>(text: string, database?: string): Promise<T[]> {
  const url = new URL(ADMIN_URL)
  if (database !== undefined) url.pathname = `/${database}`
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  try {
    return (await client.query<T>(text)).rows
  } finally {
    await client.end()
  }
}

/** n_tup_* of the raw and calltouch tables, once the bench database has no backend left (their statistics flushed on exit). */
async function tupleCounters(database: string): Promise<RowsWritten> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const [row] = await adminQuery<{ n: number }>(
      `select count(*)::integer as n from pg_stat_activity where datname = '${database}'`,
    )
    if (row?.n === 0) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const rows = await adminQuery<{ schemaname: string; ins: string; upd: string; del: string }>(
    `select schemaname, sum(n_tup_ins)::text as ins, sum(n_tup_upd)::text as upd, sum(n_tup_del)::text as del
       from pg_stat_user_tables where schemaname in ('raw', 'calltouch') group by schemaname`,
    database,
  )
  const of = (schema: string, field: 'ins' | 'upd' | 'del'): number =>
    Number(rows.find((row) => row.schemaname === schema)?.[field] ?? 0)
  return {
    rawInserted: of('raw', 'ins'),
    rawUpdated: of('raw', 'upd'),
    rawDeleted: of('raw', 'del'),
    normalizedInserted: of('calltouch', 'ins'),
    normalizedUpdated: of('calltouch', 'upd'),
    normalizedDeleted: of('calltouch', 'del'),
  }
}

function difference(after: RowsWritten, before: RowsWritten): RowsWritten {
  const result = { ...after }
  for (const key of Object.keys(result) as (keyof RowsWritten)[]) result[key] -= before[key]
  return result
}

async function countRows(warehouse: Warehouse, tables: readonly string[], xid?: string): Promise<number> {
  let total = 0
  for (const table of tables) {
    const where = xid === undefined ? '' : ` where xmin::text::bigint >= ${BigInt(xid)}`
    const [row] = await executeSql<{ n: number }>(warehouse.db, `select count(*)::integer as n from ${table}${where}`)
    total += row?.n ?? 0
  }
  return total
}

/** One `backfill` as the command runs it, with loadWindow timed. */
async function backfillPass(
  name: string,
  config: WarehouseConfig,
  simulatorUrl: string,
  database: string | undefined,
): Promise<PassResult> {
  const statsBefore = database === undefined ? undefined : await tupleCounters(database)
  const started = performance.now()
  const processBefore = process.cpuUsage()
  const warehouse = await openWarehouse(config)
  let result: Omit<PassResult, 'seconds' | 'processCpuSeconds' | 'statRows' | 'maxRssMb'>
  try {
    await migrateToLatest(warehouse.db)
    const [xidRow] = await executeSql<{ xid: string }>(warehouse.db, `select pg_current_xact_id()::text as xid`)
    const xid = xidRow?.xid ?? '0'
    const serverBefore = await backendCpu(warehouse)
    let loadMs = 0
    const loader: WindowLoader = {
      async loadWindow(db, window) {
        const loadStarted = performance.now()
        try {
          return await loadWindow(db, window)
        } finally {
          loadMs += performance.now() - loadStarted
        }
      },
      recordWindowFailure,
    }
    const summary = await withRunLock(warehouse, async () => {
      const { db } = warehouse
      const runId = await startRun(db, 'backfill', {
        sites: [SITE_ID],
        from: firstDay,
        to: LAST_DAY,
        bench: 'backfill-end-to-end',
      })
      const limiter = createRequestLimiter({ requestsPerSecond: DEFAULT_RUN_SETTINGS.requestsPerSecond })
      const site: SiteConfig = { siteId: SITE_ID, token: TOKEN, timeZone: TIME_ZONE, startDate: firstDay }
      try {
        const run = await syncSites({
          db,
          runId,
          sites: [site],
          mode: { kind: 'backfill', from: firstDay, to: LAST_DAY },
          baseUrl: simulatorUrl,
          settings: DEFAULT_RUN_SETTINGS,
          limiter,
          loader,
          now: new Date(),
          logger: silentLogger(),
          loadConcurrency,
          pageBudget,
        })
        const { failures, ...counters } = run
        await finishRun(db, runId, {
          status: run.windowsFailed === 0 ? 'succeeded' : 'partial',
          counters: { ...counters, durationMs: Math.round(performance.now() - started) },
          error: failures[0]?.error ?? null,
        })
        return run
      } finally {
        await limiter.stop()
      }
    })
    const serverCpuSeconds = backendCpuSince(serverBefore, await backendCpu(warehouse))
    const { failures, ...counters } = summary
    result = {
      name,
      loadSeconds: loadMs / 1000,
      serverCpuSeconds,
      summary: { ...counters, failures: failures.length },
      xminRaw: await countRows(warehouse, RAW_TABLES, xid),
      xminNormalized: await countRows(warehouse, NORMALIZED_TABLES, xid),
      rawRows: await countRows(warehouse, RAW_TABLES),
      normalizedRows: await countRows(warehouse, NORMALIZED_TABLES),
    }
  } finally {
    await warehouse.close()
  }
  const seconds = (performance.now() - started) / 1000
  const processCpu = process.cpuUsage(processBefore)
  const statRows =
    database === undefined || statsBefore === undefined
      ? undefined
      : difference(await tupleCounters(database), statsBefore)
  return {
    ...result,
    seconds,
    processCpuSeconds: (processCpu.user + processCpu.system) / 1e6,
    statRows,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  }
}

/** Both passes of one engine, in this process (the one whose RSS is measured). */
async function runEngine(engine: BenchEngine, simulatorUrl: string): Promise<EngineResult> {
  let config: WarehouseConfig
  let database: string | undefined
  let drop: () => Promise<void>
  if (engine === 'postgres') {
    database = `ct_bench_backfill_${process.pid}`
    await adminQuery(`create database ${database}`)
    const url = new URL(ADMIN_URL)
    url.pathname = `/${database}`
    config = { engine, databaseUrl: url.toString() }
    const name = database
    drop = async () => void (await adminQuery(`drop database if exists ${name} with (force)`))
  } else {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'calltouch-etl-bench-backfill-'))
    config = { engine, dataDir: path.join(dir, 'warehouse') }
    drop = () => fs.rm(dir, { recursive: true, force: true })
  }
  try {
    const passes = [await backfillPass('backfill (empty warehouse)', config, simulatorUrl, database)]
    passes.push(await backfillPass('same backfill again (nothing changed)', config, simulatorUrl, database))
    return { engine, passes }
  } finally {
    await drop()
  }
}

function startSimulatorChild(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--serve',
      '--deals',
      String(targetDeals),
      '--days',
      String(days),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the simulator exited with ${code} before serving`)))
    child.stdout.once('data', (chunk: Buffer) =>
      resolve({ url: chunk.toString().trim(), stop: () => child.stdin.end() }),
    )
  })
}

/** The flags `npx calltouch-etl` gives node (its shebang: the heap cap), so the work process runs as the command does. */
const COMMAND_NODE_FLAGS = (
  /^#!\/usr\/bin\/env -S node (.+)$/m.exec(
    readFileSync(new URL('../bin/calltouch-etl.js', import.meta.url), 'utf8'),
  )?.[1] ?? ''
)
  .split(' ')
  .filter(Boolean)

/** Runs one engine in a child process (under /usr/bin/time -v when present) against a fresh simulator. */
async function runEngineChild(engine: BenchEngine): Promise<EngineResult> {
  const simulator = await startSimulatorChild()
  try {
    const command = [
      process.execPath,
      ...COMMAND_NODE_FLAGS,
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--engine',
      engine,
      '--url',
      simulator.url,
      '--deals',
      String(targetDeals),
      '--days',
      String(days),
      '--load-concurrency',
      String(loadConcurrency),
      '--page-budget',
      String(pageBudget),
    ]
    const timed = existsSync(TIME_BINARY)
    const child = spawn(timed ? TIME_BINARY : (command[0] as string), timed ? ['-v', ...command] : command.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8')
    })
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8')
    })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    if (code !== 0) throw new Error(`${engine} run exited with ${code}:\n${err}`)
    const result = JSON.parse(out.trim().split('\n').at(-1) ?? '') as EngineResult
    const kilobytes = /Maximum resident set size \(kbytes\): (\d+)/.exec(err)?.[1]
    return kilobytes === undefined ? result : { ...result, timeMaxRssMb: Number(kilobytes) / 1024 }
  } finally {
    simulator.stop()
  }
}

function print(results: readonly EngineResult[]): void {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
  console.log(
    `Backfill end to end: one site, ${days} days, simulator mean ${dealsPerDay} deals a day (${firstDay}..${LAST_DAY}), simulator rate limit and latency off, product limiter at ${DEFAULT_RUN_SETTINGS.requestsPerSecond} requests/s, ${loadConcurrency} load lane(s), page budget ${pageBudget}`,
  )
  console.log(
    `Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z, load average at the end ${os
      .loadavg()
      .map((load) => load.toFixed(1))
      .join(', ')}`,
  )
  console.log('')
  console.log(
    '| engine | pass | deals seen | requests | minimum Σ ceil(deals/1000) | windows | issue 7 limit (1.1 × minimum + windows) | requests / minimum | req/s | wall s | deals/s end to end | load s (summed over lanes) | deals/s land + normalize | CPU s (Node + PG backends) | raw rows written (ins/upd/del) | normalized rows written (ins/upd/del) | rows with xmin of pass (raw / normalized) | peak pages held | peak RSS MB |',
  )
  console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  for (const result of results) {
    for (const pass of result.passes) {
      const stat = pass.statRows
      const raw = stat === undefined ? 'n/a' : `${stat.rawInserted}/${stat.rawUpdated}/${stat.rawDeleted}`
      const normalized =
        stat === undefined ? 'n/a' : `${stat.normalizedInserted}/${stat.normalizedUpdated}/${stat.normalizedDeleted}`
      const rss = result.timeMaxRssMb ?? pass.maxRssMb
      const minimum = Math.ceil(pass.summary.seen / 1000)
      const limit = Math.floor(1.1 * minimum + pass.summary.windows)
      console.log(
        `| ${result.engine} | ${pass.name} | ${pass.summary.seen} | ${pass.summary.requests} | ${minimum} | ${pass.summary.windows} | ${limit}${pass.summary.requests <= limit ? ' (met)' : ' (MISSED)'} | ${(pass.summary.requests / minimum).toFixed(2)} | ${(pass.summary.requests / pass.seconds).toFixed(2)} | ${pass.seconds.toFixed(1)} | ${Math.round(pass.summary.seen / pass.seconds)} | ${pass.loadSeconds.toFixed(1)} | ${Math.round(pass.summary.seen / pass.loadSeconds)} | ${pass.processCpuSeconds.toFixed(1)} + ${pass.serverCpuSeconds.toFixed(1)} | ${raw} | ${normalized} | ${pass.xminRaw} / ${pass.xminNormalized} | ${pass.summary.peakPagesHeld} | ${Math.round(pass.maxRssMb)}${result.timeMaxRssMb === undefined ? '' : ` (time -v, whole run: ${Math.round(rss)})`} |`,
      )
      if (pass.summary.failures > 0) console.log(`  ${pass.summary.failures} window(s) failed in this pass`)
    }
  }
  console.log('')
  console.log(
    'Targets: peak RSS < 300 MB for 1,000,000 deals (PostgreSQL); requests ≤ the issue 7 limit; land + normalize ≥ 20,000 deals/s (PostgreSQL); the unchanged backfill writes 0 raw and 0 normalized rows. End to end cannot pass 5 requests/s × 1,000 deals = 5,000 deals/s.',
  )
  console.log(
    `Reproduce: npx tsx bench/backfill-end-to-end.ts --deals ${targetDeals} --days ${days}${args.engine ? ` --engine ${args.engine}` : ''} --load-concurrency ${loadConcurrency} --page-budget ${pageBudget}`,
  )
}

async function main(): Promise<void> {
  if (!Number.isSafeInteger(targetDeals) || targetDeals < 1)
    throw new Error(`--deals must be a positive integer, got ${args.deals}`)
  if (!Number.isSafeInteger(days) || days < 2) throw new Error(`--days must be an integer above 1, got ${args.days}`)
  if (!Number.isSafeInteger(loadConcurrency) || loadConcurrency < 1)
    throw new Error(`--load-concurrency must be a positive integer, got ${args['load-concurrency']}`)
  if (!Number.isSafeInteger(pageBudget) || pageBudget < 1)
    throw new Error(`--page-budget must be a positive integer, got ${args['page-budget']}`)
  const engine = args.engine
  if (engine !== undefined && !ENGINES.includes(engine as BenchEngine))
    throw new Error(`--engine must be postgres or pglite, got ${engine}`)
  if (args.serve) {
    const { startSimulator } = await import('../simulator/index.ts')
    const sim = await startSimulator({ ...simulatorOptions, port: 0 })
    process.stdout.write(`${sim.url}\n`)
    process.stdin.resume()
    process.stdin.on('end', () => void sim.close().then(() => process.exit(0)))
    return
  }
  if (args.url !== undefined) {
    process.stdout.write(`${JSON.stringify(await runEngine(engine as BenchEngine, args.url))}\n`)
    return
  }
  const results: EngineResult[] = []
  for (const each of engine === undefined ? ENGINES : [engine as BenchEngine]) results.push(await runEngineChild(each))
  print(results)
}

await main()
