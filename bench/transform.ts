/**
 * Issue 7 §4 and issue 19: `transform` on a warehouse of 1,000,000 deals, seconds per model, a
 * full build and then a nightly after a 30-day sync.
 *
 * The deals are written straight into calltouch.* by set-based SQL
 * (generate_series), not synced: this measures the models, not the load. About
 * 400 days of one site, 12 channels (some with messy keys the channel-key macro
 * must clean), 6 managers, a visit for 6 deals in 7, tags, custom values,
 * deleted and removed deals, and ad spend for every channel and day. With
 * --leads, a call for every call deal and a request for every request deal
 * (the deal names it), and as many calls again without a deal; with
 * --connector, a Yandex Direct account whose campaigns are named as the yandex
 * deals' utm_campaign, with a row of spend per campaign and day. Each engine
 * runs on a database of its own; each run is timed as `runTransform` (build +
 * the project's data and unit tests), the project compiled beforehand (its
 * cost is printed apart: a CLI run pays it once per process, cold).
 *
 * Then a nightly: what a 30-day sync writes — every deal (and lead) of the last
 * 30 days seen again (last_seen_at, as mark_seen_orders does for a deal read
 * again), one in ten of them with a new version (amount, status) spread over
 * all 30 days, and with --connector the account's last 30 days read again with
 * one campaign-day in ten corrected — and `runTransform` again, so the
 * incremental models build only that.
 *
 * Run: npx tsx bench/transform.ts [--engine postgres|pglite] [--deals 1000000] [--leads] [--connector]
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import pg from 'pg'
import type { WarehouseConfig } from '../pipelines/core/config.ts'
import { buildTransform, compileTransform, type TransformResult } from '../pipelines/transform/run-transform.ts'
import { executeSql, openWarehouse } from '../pipelines/warehouse/connection.ts'
import { migrateToLatest } from '../pipelines/warehouse/migrator.ts'

const ENGINES = ['postgres', 'pglite'] as const
type BenchEngine = (typeof ENGINES)[number]
const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const DAYS = 400
/** The sync's look-back: the days a nightly reads again. */
const NIGHTLY_DAYS = 30

const { values: args } = parseArgs({
  options: {
    engine: { type: 'string' },
    deals: { type: 'string', default: '1000000' },
    leads: { type: 'boolean', default: false },
    connector: { type: 'boolean', default: false },
  },
})
const deals = Number(args.deals)
const engines: BenchEngine[] = args.engine ? [args.engine as BenchEngine] : [...ENGINES]

/** The days of the look-back, as a condition on a date column. */
const inNightly = (column: string): string => `${column} > date '2025-10-01' + ${DAYS - NIGHTLY_DAYS}`

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
  `insert into calltouch.sources (site_id, order_number, source_type, call_id, request_number, duration_seconds)
   select 12345, 'o' || i, case when i % 5 = 0 then 'REQUEST' else 'CALL' end, case when i % 5 <> 0 then i end,
     case when i % 5 = 0 then 'r' || i end, case when i % 5 <> 0 then i % 600 end
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

/**
 * --leads: the call of every call deal (its day, its visit's channel), and as many calls again
 * without a deal (ids past the deals'); the request of every request deal, numbered as the deal
 * names it. Calls on day (i * 7919) % 400 like the deals, so a lead and its deal share a day.
 */
const FILL_LEADS = [
  `insert into calltouch.calls (site_id, call_id, call_time, call_local_time, call_day, duration_seconds, unique_call, target_call,
     source, medium, utm_source, utm_medium, utm_campaign, payload_hash, first_seen_at, last_changed_at, last_seen_at,
     removed_from_source_at)
   select 12345, i, called_at, called_at at time zone 'Europe/Moscow', (called_at at time zone 'Europe/Moscow')::date, i % 600,
     i % 3 = 0, i % 2 = 0, (array['yandex', 'google', '(direct)', 'vk'])[1 + i % 4], (array['cpc', 'organic', '(none)', 'social'])[1 + i % 4],
     (array['yandex', ' Yandex ', 'google', '', 'vk', '<не заполнено>'])[1 + i % 6], (array['cpc', 'CPC', 'cpc', '', 'social', '(not set)'])[1 + i % 6],
     (array['brand', 'generic', 'retargeting', 'spring'])[1 + i % 4], 'bench', now(), now(), now(),
     case when i % 101 = 0 then now() end
   from (select i, timestamptz '2025-10-01 00:00:00+03' + ((i::bigint * 7919) % ${DAYS}) * interval '1 day' + (i % 86400) * interval '1 second' as called_at
         from generate_series(1, 2 * $1::integer) as i where i % 5 <> 0 or i > $1::integer) as generated`,
  `insert into calltouch.requests (site_id, request_id, request_number, request_time, request_local_time, request_day, unique_request,
     target_request, source, medium, utm_source, utm_medium, utm_campaign, payload_hash, first_seen_at, last_changed_at, last_seen_at)
   select 12345, i, 'r' || i, requested_at, requested_at at time zone 'Europe/Moscow', (requested_at at time zone 'Europe/Moscow')::date,
     i % 3 = 0, i % 2 = 0, 'yandex', 'cpc', 'yandex', 'cpc', 'brand', 'bench', now(), now(), now()
   from (select i, timestamptz '2025-10-01 00:00:00+03' + ((i::bigint * 7919) % ${DAYS}) * interval '1 day' + (i % 86400) * interval '1 second' as requested_at
         from generate_series(5, $1::integer, 5) as i) as generated`,
]

/**
 * --connector: a Yandex Direct account for the yandex/cpc channel whose deals carry campaign
 * names, two campaigns named as the deals' utm_campaign brand and generic, a row of spend a day
 * each, every day read completely (so the CSV yandex/cpc rows are left out).
 */
const FILL_CONNECTOR = [
  `insert into marketing.ad_accounts (source_system, account, site_id, utm_source, utm_medium, utm_campaign_holds, currency)
   values ('yandex-direct', 'bench-direct', 12345, 'yandex', 'cpc', 'name', 'RUB')`,
  `insert into marketing.ad_campaign_stats (source_system, account, site_id, stat_date, campaign_id, campaign_name, impressions,
     clicks, cost_micros, currency, includes_vat, run_id)
   select 'yandex-direct', 'bench-direct', 12345, date '2025-10-01' + day, campaign_id, campaign_name, 1000 + day, 40 + day % 7,
     (1000 + day * 13 + campaign_id)::bigint * 1000000, 'RUB', false, 1
   from generate_series(0, ${DAYS - 1}) as day, (values (101, 'Brand'), (102, 'Generic')) as campaign (campaign_id, campaign_name)`,
  `insert into marketing.ad_campaign_names (source_system, account, campaign_id, campaign_name)
   values ('yandex-direct', 'bench-direct', 101, 'Brand'), ('yandex-direct', 'bench-direct', 102, 'Generic')`,
  `insert into etl.ledger (source, account, day, last_extracted_at, run_id, records, status, last_succeeded_at)
   select 'yandex-direct', 'bench-direct', date '2025-10-01' + day, now(), 1, 2, 'ok', now() from generate_series(0, ${DAYS - 1}) as day`,
]

/**
 * A 30-day sync: every deal of the last 30 days returned again (last_seen_at, as
 * mark_seen_orders moves it once it is older than the resolution), one in ten of them with a new
 * version (as upsert_changed_orders writes it), spread over the 30 days.
 */
const NIGHTLY_SYNC = [
  `update calltouch.orders set last_seen_at = now() where ${inNightly('order_day')}`,
  `update calltouch.orders set completed_amount = coalesce(completed_amount, 0) + 1, status = 'final',
     payload_hash = 'bench-nightly', last_changed_at = now()
   where ${inNightly('order_day')} and (order_id / ${DAYS}) % 10 = 0`,
]

const NIGHTLY_LEADS = [
  `update calltouch.calls set last_seen_at = now() where ${inNightly('call_day')}`,
  `update calltouch.calls set target_call = not target_call, payload_hash = 'bench-nightly', last_changed_at = now()
   where ${inNightly('call_day')} and (call_id / ${DAYS}) % 10 = 0`,
  `update calltouch.requests set last_seen_at = now() where ${inNightly('request_day')}`,
]

const NIGHTLY_CONNECTOR = [
  `update etl.ledger set last_extracted_at = now(), run_id = 2 where source = 'yandex-direct' and ${inNightly('day')}`,
  `update marketing.ad_campaign_stats set cost_micros = cost_micros + 1000000, run_id = 2, loaded_at = now()
   where ${inNightly('stat_date')} and (stat_date - date '2025-10-01') % 10 = 0`,
]

async function withAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

interface RunFigures {
  seconds: number
  buildSeconds: number
  /** The project's data and unit tests. */
  testSeconds: number
  tests: string
  models: { name: string; materialized: string; mode: string | null; seconds: number; rows: number | null }[]
}

interface EngineResult {
  engine: BenchEngine
  fillSeconds: number
  compileSeconds: number
  changedDeals: number
  full: RunFigures
  nightly: RunFigures
}

async function timed(run: () => Promise<TransformResult>): Promise<RunFigures> {
  const started = performance.now()
  const result = await run()
  const seconds = (performance.now() - started) / 1000
  const buildSeconds = result.models.reduce((sum, model) => sum + model.seconds, 0)
  return {
    seconds,
    buildSeconds,
    testSeconds: seconds - buildSeconds,
    tests: `${result.testsPassed} passed, ${result.testsFailed} failed`,
    models: result.models.map((model) => ({
      name: model.name,
      materialized: model.materialized,
      mode: model.mode,
      seconds: model.seconds,
      rows: model.rows,
    })),
  }
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
    const fill = [...FILL, ...(args.leads ? FILL_LEADS : []), ...(args.connector ? FILL_CONNECTOR : [])]
    for (const statement of fill) await executeSql(warehouse.db, statement, statement.includes('$1') ? [deals] : [])
    await executeSql(warehouse.db, 'analyze')
    const fillSeconds = (performance.now() - filling) / 1000
    const compiling = performance.now()
    const compiled = compileTransform()
    const compileSeconds = (performance.now() - compiling) / 1000
    const full = await timed(() => buildTransform(warehouse.db, compiled))
    const nightlySync = [
      ...NIGHTLY_SYNC,
      ...(args.leads ? NIGHTLY_LEADS : []),
      ...(args.connector ? NIGHTLY_CONNECTOR : []),
    ]
    let changedDeals = 0
    for (const statement of nightlySync) {
      const [changed] = await executeSql<{ changed: number }>(
        warehouse.db,
        `with changed as (${statement} returning 1) select count(*)::integer as changed from changed`,
      )
      if (statement.includes('bench-nightly') && statement.includes('calltouch.orders'))
        changedDeals = changed?.changed ?? 0
    }
    const nightly = await timed(() => buildTransform(warehouse.db, compiled))
    return { engine, fillSeconds, compileSeconds, changedDeals, full, nightly }
  } finally {
    await warehouse.close()
    await cleanUp()
  }
}

const results: EngineResult[] = []
for (const engine of engines) results.push(await benchEngine(engine))

const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
const with_ = [args.leads ? 'leads' : '', args.connector ? 'connector spend' : ''].filter(Boolean).join(', ')
console.log(
  `Transform: calltouch-etl transform (runTransform) on ${deals} deals${with_ ? ` with ${with_}` : ''}, seconds per model`,
)
console.log(
  `Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${os
    .loadavg()
    .map((load) => load.toFixed(1))
    .join(' ')}`,
)
console.log('')
console.log(
  `| model | materialized | rows | ${results.map((result) => `${result.engine} full s | ${result.engine} nightly s`).join(' | ')} |`,
)
console.log(`|---|---|--:|${results.map(() => '--:|--:|').join('')}`)
for (const [index, model] of (results[0]?.full.models ?? []).entries()) {
  const nightlyMode = results[0]?.nightly.models[index]?.mode
  console.log(
    `| ${model.name} | ${model.materialized}${nightlyMode ? ` (nightly: ${nightlyMode})` : ''} | ${model.rows ?? ''} | ${results
      .map(
        (result) =>
          `${result.full.models[index]?.seconds.toFixed(2)} | ${result.nightly.models[index]?.seconds.toFixed(2)}`,
      )
      .join(' | ')} |`,
  )
}
const row = (label: string, cell: (result: EngineResult) => string): void =>
  console.log(`| ${label} | | | ${results.map(cell).join(' | ')} |`)
row('all models', (result) => `${result.full.buildSeconds.toFixed(1)} | ${result.nightly.buildSeconds.toFixed(1)}`)
row(
  `data and unit tests (${results[0]?.full.tests})`,
  (result) => `${result.full.testSeconds.toFixed(1)} | ${result.nightly.testSeconds.toFixed(1)}`,
)
row('whole run', (result) => `${result.full.seconds.toFixed(1)} | ${result.nightly.seconds.toFixed(1)}`)
row(
  'nightly: share of the full build',
  (result) => `| ${Math.round((100 * result.nightly.seconds) / result.full.seconds)} %`,
)
console.log('')
console.log(
  `Nightly after a ${NIGHTLY_DAYS}-day sync: every deal${args.leads ? ' and lead' : ''} of its days seen again, ${results[0]?.changedDeals} deals with a new version${args.connector ? ', one campaign-day in ten corrected' : ''}.`,
)
console.log(
  `Compiling the project beforehand (in each run above: none): ${results.map((result) => `${result.engine} ${result.compileSeconds.toFixed(2)} s`).join(', ')} (cold, as a CLI run pays it once).`,
)
console.log(
  `Data written by SQL before the run: ${results.map((result) => `${result.engine} ${result.fillSeconds.toFixed(1)} s`).join(', ')}`,
)
console.log(
  `Reproduce: npx tsx bench/transform.ts --deals ${deals}${args.engine ? ` --engine ${args.engine}` : ''}${args.leads ? ' --leads' : ''}${args.connector ? ' --connector' : ''}`,
)
