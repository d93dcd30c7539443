/**
 * Issue 7 §4: `transform` on a warehouse of 1,000,000 deals, seconds per model.
 *
 * The deals are written straight into calltouch.* by set-based SQL
 * (generate_series), not synced: this measures the models, not the load. About
 * 400 days of one site, 12 channels (some with messy keys the channel-key macro
 * must clean), 6 managers, a visit for 6 deals in 7, tags, custom values,
 * deleted and removed deals, and ad spend for every channel and day. Each
 * engine runs on a database of its own; the run is timed as `runTransform`
 * (build + the project's data and unit tests).
 *
 * Then a nightly: what a 30-day sync changes (every deal of the last 30 days
 * seen again, one in ten of them with a new version: amount, status), and
 * `runTransform` again, so the incremental marts build only that.
 *
 * Run: npx tsx bench/transform.ts [--engine postgres|pglite] [--deals 1000000]
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import pg from 'pg'
import type { WarehouseConfig } from '../pipelines/core/config.ts'
import { runTransform } from '../pipelines/transform/run-transform.ts'
import { executeSql, openWarehouse } from '../pipelines/warehouse/connection.ts'
import { migrateToLatest } from '../pipelines/warehouse/migrator.ts'

const ENGINES = ['postgres', 'pglite'] as const
type BenchEngine = (typeof ENGINES)[number]
const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const DAYS = 400

const { values: args } = parseArgs({
  options: { engine: { type: 'string' }, deals: { type: 'string', default: '1000000' } },
})
const deals = Number(args.deals)
const engines: BenchEngine[] = args.engine ? [args.engine as BenchEngine] : [...ENGINES]

/** One statement each (PGlite runs one per call); $1 = number of deals. */
const FILL = [
  `insert into calltouch.orders (site_id, order_number, order_id, order_date, order_day, created_date, completed_date, status, manager,
     service, order_origin, source_type, planned_amount, completed_amount, is_deleted, removed_from_source_at, payload_hash,
     first_seen_at, last_changed_at, last_seen_at)
   select 12345, 'o' || i, i, ordered_at, (ordered_at at time zone 'Europe/Moscow')::date, (ordered_at at time zone 'Europe/Moscow')::date,
     case when i % 3 = 0 then (ordered_at at time zone 'Europe/Moscow')::date + (i % 20) end,
     (array['start', 'in_progress', 'final', 'lost'])[1 + i % 4], (array['Anna', 'Boris', 'Olga', 'Ivan', null, ''])[1 + i % 6],
     'AmoCRM', 'api', case when i % 5 = 0 then 'REQUEST' else 'CALL' end,
     case when i % 4 = 0 then null else (1000 + i % 9000) * 1.5 end,
     case when i % 3 = 0 then (500 + i % 20000) * 1.25 end,
     i % 97 = 0, case when i % 89 = 0 then now() end, 'bench', now(), now(), now()
   from (select i, timestamptz '2025-10-01 00:00:00+03' + ((i::bigint * 7919) % ${DAYS}) * interval '1 day' + (i % 86400) * interval '1 second' as ordered_at
         from generate_series(1, $1::integer) as i) as generated`,
  `insert into calltouch.visits (site_id, order_number, visit_time, source, medium, utm_source, utm_medium, utm_campaign)
   select 12345, 'o' || i, now(), (array['yandex', 'google', '(direct)', 'vk'])[1 + i % 4], (array['cpc', 'organic', '(none)', 'social'])[1 + i % 4],
     (array['yandex', ' Yandex ', 'google', '', 'vk', '<не заполнено>'])[1 + i % 6], (array['cpc', 'CPC', 'cpc', '', 'social', '(not set)'])[1 + i % 6],
     (array['brand', 'generic', 'retargeting', 'spring'])[1 + i % 4]
   from generate_series(1, $1::integer) as i where i % 7 <> 0`,
  `insert into calltouch.sources (site_id, order_number, source_type, call_id, duration_seconds)
   select 12345, 'o' || i, case when i % 5 = 0 then 'REQUEST' else 'CALL' end, case when i % 5 <> 0 then i end, case when i % 5 <> 0 then i % 600 end
   from generate_series(1, $1::integer) as i`,
  `insert into calltouch.tags (site_id, order_number, tag)
   select 12345, 'o' || i, tag from generate_series(1, $1::integer) as i, unnest(array['vip', 'repeat']) as tag
   where (tag = 'vip' and i % 3 = 0) or (tag = 'repeat' and i % 5 = 0)`,
  `insert into calltouch.custom_fields (site_id, order_number, field, value)
   select 12345, 'o' || i, 'cost_price', (i % 10000) * 10 from generate_series(1, $1::integer) as i where i % 2 = 0`,
  `insert into marketing.ad_spend (site_id, spend_date, source, medium, campaign, cost, source_file)
   select 12345, date '2025-10-01' + day, source, medium, campaign, ((day * 31 + length(campaign) * 17) % 5000) + 0.25, 'bench.csv'
   from generate_series(0, ${DAYS - 1}) as day,
     (values ('yandex', 'cpc', 'brand'), ('yandex', 'cpc', 'generic'), ('Google', 'CPC', 'retargeting'), ('vk', 'social', 'spring'), ('bing', 'cpc', 'brand')) as channel (source, medium, campaign)`,
]

/** A 30-day sync: one deal in ten of the last 30 days gets a new version, as upsert_changed_orders writes it. */
const NIGHTLY_SYNC = `update calltouch.orders set completed_amount = coalesce(completed_amount, 0) + 1, status = 'final',
   payload_hash = 'bench-nightly', last_changed_at = now()
 where order_day > date '2025-10-01' + ${DAYS - 30} and order_id % 10 = 0`

async function withAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

interface EngineResult {
  engine: BenchEngine
  fillSeconds: number
  totalSeconds: number
  testSeconds: number
  tests: string
  nightlySeconds: number
  nightlyBuildSeconds: number
  nightlyChanged: number
  models: { name: string; materialized: string; seconds: number; rows: number | null }[]
}

async function benchEngine(engine: BenchEngine): Promise<EngineResult> {
  let config: WarehouseConfig
  let cleanUp: () => Promise<void>
  if (engine === 'postgres') {
    const name = `bench_transform_${process.pid}`
    await withAdmin(`create database ${name}`)
    const url = new URL(ADMIN_URL)
    url.pathname = `/${name}`
    config = { engine, databaseUrl: url.toString() }
    cleanUp = () => withAdmin(`drop database if exists ${name} with (force)`)
  } else {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-transform-'))
    config = { engine, dataDir: path.join(dir, 'warehouse') }
    cleanUp = () => fs.rm(dir, { recursive: true, force: true })
  }
  const warehouse = await openWarehouse(config)
  try {
    await migrateToLatest(warehouse.db)
    const filling = performance.now()
    for (const statement of FILL) await executeSql(warehouse.db, statement, statement.includes('$1') ? [deals] : [])
    await executeSql(warehouse.db, 'analyze')
    const fillSeconds = (performance.now() - filling) / 1000
    const started = performance.now()
    const result = await runTransform(warehouse.db)
    const totalSeconds = (performance.now() - started) / 1000
    const buildSeconds = result.models.reduce((sum, model) => sum + model.seconds, 0)
    const [changed] = await executeSql<{ changed: number }>(
      warehouse.db,
      `with changed as (${NIGHTLY_SYNC} returning 1) select count(*)::integer as changed from changed`,
    )
    const nightlyStarted = performance.now()
    const nightly = await runTransform(warehouse.db)
    const nightlySeconds = (performance.now() - nightlyStarted) / 1000
    return {
      nightlySeconds,
      nightlyBuildSeconds: nightly.models.reduce((sum, model) => sum + model.seconds, 0),
      nightlyChanged: changed?.changed ?? 0,
      engine,
      fillSeconds,
      totalSeconds,
      testSeconds: totalSeconds - buildSeconds,
      tests: `${result.testsPassed} passed, ${result.testsFailed} failed`,
      models: result.models.map((model) => ({
        name: model.name,
        materialized: model.materialized,
        seconds: model.seconds,
        rows: model.rows,
      })),
    }
  } finally {
    await warehouse.close()
    await cleanUp()
  }
}

const results: EngineResult[] = []
for (const engine of engines) results.push(await benchEngine(engine))

const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
console.log(`Transform: calltouch-etl transform (runTransform) on ${deals} deals, seconds per model`)
console.log(
  `Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${os.loadavg()[0]?.toFixed(1)}`,
)
console.log('')
console.log(`| model | materialized | rows | ${results.map((result) => `${result.engine} s`).join(' | ')} |`)
console.log(`|---|---|--:|${results.map(() => '--:|').join('')}`)
for (const [index, model] of (results[0]?.models ?? []).entries()) {
  console.log(
    `| ${model.name} | ${model.materialized} | ${model.rows ?? ''} | ${results.map((result) => result.models[index]?.seconds.toFixed(2)).join(' | ')} |`,
  )
}
console.log(
  `| all models | | | ${results.map((result) => (result.totalSeconds - result.testSeconds).toFixed(1)).join(' | ')} |`,
)
console.log(
  `| tests (${results[0]?.tests}) | | | ${results.map((result) => result.testSeconds.toFixed(1)).join(' | ')} |`,
)
console.log(`| whole run | | | ${results.map((result) => result.totalSeconds.toFixed(1)).join(' | ')} |`)
console.log(
  `| nightly after a 30-day sync (${results[0]?.nightlyChanged} deals changed): models | | | ${results.map((result) => result.nightlyBuildSeconds.toFixed(1)).join(' | ')} |`,
)
console.log(
  `| nightly: whole run, share of the first | | | ${results.map((result) => `${result.nightlySeconds.toFixed(1)} (${Math.round((100 * result.nightlySeconds) / result.totalSeconds)} %)`).join(' | ')} |`,
)
console.log('')
console.log(
  `Data written by SQL before the run: ${results.map((result) => `${result.engine} ${result.fillSeconds.toFixed(1)} s`).join(', ')}`,
)
console.log(`Reproduce: npx tsx bench/transform.ts --deals ${deals}${args.engine ? ` --engine ${args.engine}` : ''}`)
