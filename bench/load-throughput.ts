/**
 * Land + normalize throughput of the window load (pipelines/sources/calltouch-deals/load-window.ts), issue 7's
 * target: at least 20,000 deals a second on PostgreSQL, and an unchanged re-sync writes no raw and
 * no normalized rows.
 *
 * Page texts come from the simulator's generator (the same records its HTTP export serves),
 * written once to a temporary directory, a file per window of about 5,000 deals (the
 * extractor's target). `--lanes` windows load at once (default 2, as `sync` loads them on
 * PostgreSQL: one transaction each, on connections of their own), each lane reading its next
 * window's file just before loading it, so memory holds about `lanes` windows' pages, as in a
 * sync, and none of the simulator's; the CPU time of reading the files is left out. Three passes over the same windows: the first load into an
 * empty warehouse; an unchanged reload right after; and an unchanged reload once last_seen_at is
 * older than its resolution (what the next night's look-back re-read costs). Rows written are
 * counted by xmin: rows of raw and calltouch tables that the pass created or rewrote.
 *
 * Each engine runs in a process of its own, so peak RSS is that engine's (PGlite's database
 * lives in the process; PostgreSQL's server memory is not in the figure). CPU time (this
 * process plus the PostgreSQL backends, from /proc) is reported beside the wall clock: on a
 * shared machine it is the figure that does not depend on what else runs. Machine CPU (every
 * process and the kernel, from /proc/stat) adds what those leave out: PostgreSQL's WAL writer,
 * checkpointer and autovacuum; it is only meaningful on an otherwise quiet machine.
 *
 * Run: npx tsx bench/load-throughput.ts [--engine postgres|pglite] [--deals 200000] [--lanes 2]
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { loadWindow } from '../pipelines/sources/calltouch-deals/load-window.ts'
import type { WarehouseConfig } from '../pipelines/core/config.ts'
import { executeSql, openWarehouse, type Warehouse, type WarehouseOptions } from '../pipelines/warehouse/connection.ts'
import { sqlFileNames, sqlText } from '../pipelines/warehouse/sql-files.ts'
import { migrateToLatest } from '../pipelines/warehouse/migrator.ts'
import { startRun } from '../pipelines/warehouse/run-ledger.ts'
import { collectDeals, serializeDealRecord, SimulatedSite } from '../simulator/index.ts'
import { resolveSimulatorOptions } from '../simulator/simulator-options.ts'
import { backendCpu, backendCpuSince, machineBusySeconds } from './backend-cpu.ts'

const SITE_ID = 12345
const DEALS_PER_DAY = 2500
const WINDOW_RECORDS = 5000
const PAGE_LIMIT = 1000
const DAY_MS = 86_400_000
const ENGINES = ['postgres', 'pglite'] as const
type BenchEngine = (typeof ENGINES)[number]
const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const WRITTEN_TABLES = [
  'raw.calltouch_orders',
  'calltouch.orders',
  'calltouch.sources',
  'calltouch.visits',
  'calltouch.custom_fields',
  'calltouch.tags',
] as const

const { values: args } = parseArgs({
  options: {
    engine: { type: 'string' },
    deals: { type: 'string', default: '200000' },
    /** Windows loading at once, each in its own transaction on its own connection, as `sync` loads them. */
    lanes: { type: 'string', default: '2' },
    /** Internal: the written corpus's manifest; run one engine on it and print the result as JSON. */
    corpus: { type: 'string' },
  },
})
const targetDeals = Number(args.deals)
const lanes = Number(args.lanes)

interface Pass {
  name: string
  seconds: number
  /** CPU seconds of this process (PGlite's database runs in it) and of the PostgreSQL backends that served the pass. */
  cpuSeconds: number
  /** CPU seconds the whole machine was busy during the pass (PostgreSQL's background processes and the kernel included), less reading the files. */
  machineCpuSeconds: number
  deals: number
  landed: number
  changed: number
  rowsWritten: number
}
interface EngineResult {
  engine: BenchEngine
  windows: number
  deals: number
  passes: Pass[]
  peakRssMb: number
  server: string
  firstLoadSteps: Step[]
}
/** One statement of the load, summed over the first load's windows. */
interface Step {
  statement: string
  calls: number
  seconds: number
}

interface BenchWindow {
  firstDay: string
  lastDay: string
  file: string
}
interface Corpus {
  dir: string
  windows: BenchWindow[]
  deals: number
  timeZone: string
}

const isoDay = (dayNumber: number): string => new Date(dayNumber * DAY_MS).toISOString().slice(0, 10)

/** The window's response bodies as the export pages them (withOrdersTags=true), one a line. */
function pagesText(records: readonly string[]): string {
  const pageTotal = Math.max(1, Math.ceil(records.length / PAGE_LIMIT))
  const pages: string[] = []
  for (let page = 1; page <= pageTotal; page++) {
    const slice = records.slice((page - 1) * PAGE_LIMIT, page * PAGE_LIMIT)
    pages.push(
      `{"page":${page},"pageTotal":${pageTotal},"pageSize":${PAGE_LIMIT},"recordsTotal":${records.length},"records":[${slice.join(',')}]}`,
    )
  }
  // JSON text holds no raw line break, so a line is a page.
  return pages.join('\n')
}

/**
 * Consecutive days up to yesterday, grouped into windows of about WINDOW_RECORDS deals, up to
 * targetDeals in all, each window's pages written to a file.
 */
async function writeCorpus(): Promise<Corpus> {
  const options = resolveSimulatorOptions({
    sites: [{ siteId: SITE_ID, token: 'bench-token', dealsPerDay: DEALS_PER_DAY, historyStart: '2015-01-01' }],
  })
  const site = new SimulatedSite(options.seed, options.sites[0]!, options.timeZone)
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'calltouch-etl-bench-pages-'))
  const lastDay = Math.floor(options.nowMs / DAY_MS) - 1
  const dayCount = Math.ceil((targetDeals * 1.5) / DEALS_PER_DAY) + 7
  const windows: BenchWindow[] = []
  let deals = 0
  let records: string[] = []
  let windowFirst = lastDay - dayCount + 1
  for (let day = windowFirst; deals + records.length < targetDeals || records.length > 0; day++) {
    if (day <= lastDay && deals + records.length < targetDeals) {
      for (const record of collectDeals(site, isoDay(day), isoDay(day), options.nowMs))
        records.push(serializeDealRecord(record, true))
    }
    if (records.length >= WINDOW_RECORDS || deals + records.length >= targetDeals || day >= lastDay) {
      const file = path.join(dir, `${windows.length}.jsonl`)
      await fs.writeFile(file, pagesText(records))
      windows.push({ firstDay: isoDay(windowFirst), lastDay: isoDay(Math.min(day, lastDay)), file })
      deals += records.length
      records = []
      windowFirst = day + 1
      if (day >= lastDay) break
    }
  }
  return { dir, windows, deals, timeZone: options.timeZone }
}

/** A corpus file's pages (one a line: JSON text holds no raw line break) as views of its bytes. */
function pageBytes(file: Buffer): Buffer[] {
  const pages: Buffer[] = []
  for (let start = 0; start < file.length;) {
    const end = file.indexOf(0x0a, start)
    pages.push(file.subarray(start, end < 0 ? file.length : end))
    start = end < 0 ? file.length : end + 1
  }
  return pages
}

async function rowsWrittenSince(warehouse: Warehouse, xid: string): Promise<number> {
  let total = 0
  for (const table of WRITTEN_TABLES) {
    const [row] = await executeSql<{ n: number }>(
      warehouse.db,
      `select count(*)::integer as n from ${table} where xmin::text::bigint >= $1::bigint`,
      [xid],
    )
    total += row?.n ?? 0
  }
  return total
}

async function currentXid(warehouse: Warehouse): Promise<string> {
  const [row] = await executeSql<{ xid: string }>(warehouse.db, `select pg_current_xact_id()::text as xid`)
  return row?.xid ?? '0'
}

async function openBenchWarehouse(
  engine: BenchEngine,
  options: WarehouseOptions,
): Promise<{ warehouse: Warehouse; drop: () => Promise<void> }> {
  let config: WarehouseConfig
  let drop: () => Promise<void>
  if (engine === 'postgres') {
    const name = `ct_bench_load_${process.pid}`
    const admin = async (text: string): Promise<void> => {
      const client = new pg.Client({ connectionString: ADMIN_URL })
      await client.connect()
      try {
        await client.query(text)
      } finally {
        await client.end()
      }
    }
    await admin(`create database ${name}`)
    const url = new URL(ADMIN_URL)
    url.pathname = `/${name}`
    config = { engine, databaseUrl: url.toString() }
    drop = () => admin(`drop database if exists ${name} with (force)`)
  } else {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'calltouch-etl-bench-'))
    config = { engine, dataDir: path.join(dir, 'warehouse') }
    drop = () => fs.rm(dir, { recursive: true, force: true })
  }
  const warehouse = await openWarehouse(config, options)
  await migrateToLatest(warehouse.db)
  return { warehouse, drop }
}

/** The server's version and the settings that bound a bulk load, for the record. */
async function serverSettings(warehouse: Warehouse): Promise<string> {
  const [row] = await executeSql<{ line: string }>(
    warehouse.db,
    `select 'PostgreSQL ' || current_setting('server_version') || ', shared_buffers ' || current_setting('shared_buffers')
    || ', max_wal_size ' || current_setting('max_wal_size') || ', synchronous_commit ' || current_setting('synchronous_commit') as line`,
  )
  return `${warehouse.engine === 'pglite' ? 'PGlite (embedded): ' : ''}${row?.line ?? ''}`
}

/** The load's statements by their sql/ file name; any other statement by its first words. */
function statementNames(): (sql: string) => string {
  const byText = new Map(sqlFileNames().map((name) => [sqlText(name), name] as const))
  return (sql) => byText.get(sql) ?? sql.trim().split(/\s+/).slice(0, 3).join(' ')
}

async function runEngine(engine: BenchEngine, corpus: Corpus): Promise<EngineResult> {
  const nameOf = statementNames()
  const steps = new Map<string, Step>()
  let collecting = false
  const onQuery = (sql: string, milliseconds: number): void => {
    if (!collecting) return
    const statement = nameOf(sql)
    const step = steps.get(statement) ?? { statement, calls: 0, seconds: 0 }
    step.calls += 1
    step.seconds += milliseconds / 1000
    steps.set(statement, step)
  }
  const { warehouse, drop } = await openBenchWarehouse(engine, { onQuery })
  try {
    const runId = await startRun(warehouse.db, 'bench load-throughput')
    const pass = async (name: string, breakDown = false): Promise<Pass> => {
      const xid = await currentXid(warehouse)
      const serverBefore = await backendCpu(warehouse)
      let landed = 0
      let changed = 0
      let next = 0
      let readingCpuMicros = 0
      const machineBefore = await machineBusySeconds()
      const started = performance.now()
      const cpuBefore = process.cpuUsage()
      const lane = async (): Promise<void> => {
        for (let index = next++; index < corpus.windows.length; index = next++) {
          const window = corpus.windows[index] as BenchWindow
          // Read synchronously, so that its CPU time is this read's alone and can be left out:
          // a sync gets the pages from the API, not from files. Kept as bytes, as a sync keeps them.
          const readingBefore = process.cpuUsage()
          const pages = pageBytes(readFileSync(window.file))
          const reading = process.cpuUsage(readingBefore)
          readingCpuMicros += reading.user + reading.system
          const result = await loadWindow(warehouse.db, {
            runId,
            siteId: SITE_ID,
            timeZone: corpus.timeZone,
            firstDay: window.firstDay,
            lastDay: window.lastDay,
            pages,
          })
          landed += result.landed
          changed += result.changed
        }
      }
      collecting = breakDown
      await Promise.all(Array.from({ length: lanes }, lane))
      collecting = false
      const cpu = process.cpuUsage(cpuBefore)
      const seconds = (performance.now() - started) / 1000
      const machineCpuSeconds = (await machineBusySeconds()) - machineBefore - readingCpuMicros / 1e6
      const processCpuMicros = cpu.user + cpu.system - readingCpuMicros
      let cpuSeconds = processCpuMicros / 1e6
      cpuSeconds += backendCpuSince(serverBefore, await backendCpu(warehouse))
      return {
        name,
        seconds,
        cpuSeconds,
        machineCpuSeconds,
        deals: corpus.deals,
        landed,
        changed,
        rowsWritten: await rowsWrittenSince(warehouse, xid),
      }
    }
    const passes = [await pass('first load', true), await pass('unchanged reload')]
    // The next night: last_seen_at is older than its resolution, so the re-read moves it on.
    await executeSql(warehouse.db, `update calltouch.orders set last_seen_at = last_seen_at - interval '1 day'`)
    passes.push(await pass('unchanged reload, next night'))
    return {
      engine,
      windows: corpus.windows.length,
      deals: corpus.deals,
      passes,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      server: await serverSettings(warehouse),
      firstLoadSteps: [...steps.values()],
    }
  } finally {
    await warehouse.close()
    await drop()
  }
}

function runChild(engine: BenchEngine, corpusFile: string): Promise<EngineResult> {
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--engine',
      engine,
      '--lanes',
      String(lanes),
      '--corpus',
      corpusFile,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8')
  })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as EngineResult)
        : reject(new Error(`${engine} run exited with ${code}`)),
    )
  })
}

function print(results: readonly EngineResult[]): void {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
  console.log(
    `Load throughput: land + normalize of ${results[0]?.deals ?? 0} simulated deals in windows of ~${WINDOW_RECORDS} (${results[0]?.windows ?? 0} windows, pages of ${PAGE_LIMIT}), ${lanes} loading at once`,
  )
  console.log(
    `Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
  )
  console.log('')
  for (const result of results) console.log(`Server (${result.engine}): ${result.server}`)
  console.log(
    `Load average at the end: ${os
      .loadavg()
      .map((load) => load.toFixed(1))
      .join(', ')} (other work on the machine slows the wall clock, not the CPU time)`,
  )
  console.log('')
  console.log(
    '| engine | pass | seconds | deals/s | CPU s | deals per CPU s | machine CPU s | µs of machine CPU a deal | landed | changed | rows written | peak RSS MB |',
  )
  console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  for (const result of results) {
    for (const pass of result.passes) {
      console.log(
        `| ${result.engine} | ${pass.name} | ${pass.seconds.toFixed(1)} | ${Math.round(pass.deals / pass.seconds)} | ${pass.cpuSeconds.toFixed(1)} | ${Math.round(pass.deals / pass.cpuSeconds)} | ${pass.machineCpuSeconds.toFixed(1)} | ${Math.round((pass.machineCpuSeconds * 1e6) / pass.deals)} | ${pass.landed} | ${pass.changed} | ${pass.rowsWritten} | ${Math.round(result.peakRssMb)} |`,
      )
    }
  }
  for (const result of results) printSteps(result)
  console.log('')
  console.log(
    `Reproduce: npx tsx bench/load-throughput.ts${args.engine ? ` --engine ${args.engine}` : ''} --deals ${targetDeals} --lanes ${lanes}`,
  )
}

/**
 * Where the first load's time went, statement by statement: from sending each to its last row,
 * summed over the windows. With one lane this is, for PostgreSQL, the backend's time; with more,
 * statements overlap and the sum exceeds the wall clock.
 */
function printSteps(result: EngineResult): void {
  const steps = [...result.firstLoadSteps].sort((a, b) => b.seconds - a.seconds)
  const total = steps.reduce((sum, step) => sum + step.seconds, 0)
  const microsPerDeal = (seconds: number): string => ((seconds * 1e6) / result.deals).toFixed(1)
  console.log('')
  console.log(
    `Where the first load's time went (${result.engine}, ${lanes} at once): statement time summed over the windows`,
  )
  console.log('')
  console.log('| statement | calls | seconds | µs a deal | share |')
  console.log('|---|--:|--:|--:|--:|')
  for (const step of steps) {
    console.log(
      `| ${step.statement} | ${step.calls} | ${step.seconds.toFixed(2)} | ${microsPerDeal(step.seconds)} | ${((step.seconds / total) * 100).toFixed(1)} % |`,
    )
  }
  console.log(
    `| all statements | ${steps.reduce((sum, step) => sum + step.calls, 0)} | ${total.toFixed(2)} | ${microsPerDeal(total)} | 100 % |`,
  )
}

async function main(): Promise<void> {
  if (!Number.isSafeInteger(targetDeals) || targetDeals < 1)
    throw new Error(`--deals must be a positive integer, got ${args.deals}`)
  if (!Number.isSafeInteger(lanes) || lanes < 1)
    throw new Error(`--lanes must be a positive integer, got ${args.lanes}`)
  const engine = args.engine
  if (engine !== undefined && !ENGINES.includes(engine as BenchEngine))
    throw new Error(`--engine must be postgres or pglite, got ${engine}`)
  if (args.corpus !== undefined) {
    const corpus = JSON.parse(await fs.readFile(args.corpus, 'utf8')) as Corpus
    process.stdout.write(JSON.stringify(await runEngine(engine as BenchEngine, corpus)) + '\n')
    return
  }
  const corpus = await writeCorpus()
  const results: EngineResult[] = []
  try {
    const manifest = path.join(corpus.dir, 'corpus.json')
    await fs.writeFile(manifest, JSON.stringify(corpus))
    for (const each of engine === undefined ? ENGINES : [engine as BenchEngine])
      results.push(await runChild(each, manifest))
  } finally {
    await fs.rm(corpus.dir, { recursive: true, force: true })
  }
  print(results)
}

await main()
