/**
 * Spend import speed (issue 5: "a file can have 100k rows; no row-by-row round
 * trips"): a generated Russian-style export (`;`, DD.MM.YYYY, `1 234,50`) of N
 * lines, every key distinct, read + parsed + validated in Node, then upserted
 * in one statement; then the same file again (every key replaced).
 *
 * Each engine gets a fresh database (PostgreSQL: a new database on
 * TEST_DATABASE_URL's server; PGlite: a temporary directory).
 *
 * Run: npx tsx bench/spend-import.ts [--lines 100000] [--engine postgres|pglite]
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import type { WarehouseConfig } from '../pipelines/core/config.ts'
import { importSpend, loadSpendFile } from '../pipelines/spend/import-spend.ts'
import { executeSql, openWarehouse } from '../pipelines/warehouse/connection.ts'
import { migrateToLatest } from '../pipelines/warehouse/migrator.ts'

const SITE_ID = 12345
const CAMPAIGNS = 50
const SOURCES = [
  ['yandex', 'cpc'],
  ['google', 'cpc'],
  ['vk', 'social'],
  ['mytarget', 'cpm'],
] as const
const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

const { values } = parseArgs({ options: { lines: { type: 'string', default: '100000' }, engine: { type: 'string' } } })
const lines = Number(values.lines)
const engines = values.engine ? [values.engine] : ['postgres', 'pglite']

/** Distinct keys: day × source × campaign, as many days back from 2026-03-01 as needed. */
function spendCsv(count: number): string {
  const out = ['date;Source;Medium;Campaign;Cost']
  const perDay = SOURCES.length * CAMPAIGNS
  for (let i = 0; i < count; i += 1) {
    const day = new Date(Date.UTC(2026, 2, 1) - Math.floor(i / perDay) * 86_400_000)
    const [source, medium] = SOURCES[i % SOURCES.length]!
    const kopecks = (i * 7919) % 10_000_000
    const rubles = Math.floor(kopecks / 100).toLocaleString('ru-RU')
    const dd = String(day.getUTCDate()).padStart(2, '0')
    const mm = String(day.getUTCMonth() + 1).padStart(2, '0')
    out.push(
      `${dd}.${mm}.${day.getUTCFullYear()};${source};${medium};campaign_${Math.floor(i / SOURCES.length) % CAMPAIGNS};${rubles},${String(kopecks % 100).padStart(2, '0')}`,
    )
  }
  return `${out.join('\r\n')}\r\n`
}

async function warehouseFor(
  engine: string,
  dir: string,
): Promise<{ config: WarehouseConfig; drop: () => Promise<void> }> {
  if (engine === 'pglite')
    return { config: { engine: 'pglite', dataDir: path.join(dir, 'warehouse') }, drop: async () => {} }
  const name = `ct_bench_spend_${randomBytes(4).toString('hex')}`
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

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'calltouch-etl-bench-spend-'))
const file = path.join(dir, 'spend.csv')
await fs.writeFile(file, spendCsv(lines))
const sizeMb = (await fs.stat(file)).size / 1e6
process.stdout.write(
  `spend import: ${lines} lines, ${sizeMb.toFixed(1)} MB, load average ${os.loadavg()[0]!.toFixed(1)}\n`,
)
try {
  for (const engine of engines) {
    const { config, drop } = await warehouseFor(engine, dir)
    const warehouse = await openWarehouse(config)
    try {
      await migrateToLatest(warehouse.db)
      const parseStart = performance.now()
      const spend = await loadSpendFile(file, SITE_ID)
      const parseMs = performance.now() - parseStart
      const timings: number[] = []
      for (let pass = 0; pass < 2; pass += 1) {
        const start = performance.now()
        await importSpend(warehouse.db, spend)
        timings.push(performance.now() - start)
      }
      const [count] = await executeSql<{ rows: string }>(
        warehouse.db,
        'select count(*) as rows from marketing.ad_spend',
      )
      const rate = (ms: number): string => `${Math.round(lines / (ms / 1000)).toLocaleString('en-US')} lines/s`
      process.stdout.write(
        `${engine}: parse+validate ${Math.round(parseMs)} ms (${rate(parseMs)}); ` +
          `first import ${Math.round(timings[0]!)} ms (${rate(timings[0]!)}); re-import ${Math.round(timings[1]!)} ms (${rate(timings[1]!)}); ` +
          `${count!.rows} rows; peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB\n`,
      )
    } finally {
      await warehouse.close()
      await drop()
    }
  }
} finally {
  await fs.rm(dir, { recursive: true, force: true })
}
