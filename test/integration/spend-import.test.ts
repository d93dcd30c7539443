import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { loadSpendFile } from '../../pipelines/spend/import-spend.ts'
import { spendJob } from '../../pipelines/jobs/spend-job.ts'
import { parseSpendCsv } from '../../pipelines/spend/parse-spend-csv.ts'
import { runCli } from '../helpers/cli.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const FIXTURES = new URL('../fixtures/spend/', import.meta.url).pathname
const SITE = 12345
const HEADER = 'date,source,medium,campaign,cost'

interface SpendRow {
  site_id: number
  spend_date: string
  source: string
  medium: string
  campaign: string
  cost: string
  currency: string
  source_file: string
  imported_at: Date
}

async function spendRows(tw: TestWarehouse): Promise<SpendRow[]> {
  return executeSql<SpendRow>(
    tw.warehouse.db,
    `
    select site_id, spend_date, source, medium, campaign, cost, currency, source_file, imported_at
    from marketing.ad_spend order by site_id, spend_date, source, medium, campaign`,
  )
}

/** Rows without imported_at, as [site, day, source, medium, campaign, cost, currency, file]. */
async function spendTuples(tw: TestWarehouse): Promise<(string | number)[][]> {
  return (await spendRows(tw)).map((row) => [
    row.site_id,
    row.spend_date,
    row.source,
    row.medium,
    row.campaign,
    row.cost,
    row.currency,
    row.source_file,
  ])
}

function spendFile(fileName: string, text: string) {
  return parseSpendCsv(text, { fileName, defaultSiteId: SITE })
}

describeEachEngine('spend import into the warehouse', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
  })
  afterAll(async () => {
    await tw?.destroy()
  })
  beforeEach(async () => {
    await executeSql(tw.warehouse.db, 'delete from marketing.ad_spend')
  })

  it('loads the sample file to the kopeck with the file name and import time, and records the run in etl.runs', async () => {
    const before = new Date()
    const result = await spendJob(tw.warehouse, await loadSpendFile(`${FIXTURES}sample-spend.csv`, SITE))
    expect(result).toEqual({
      fileName: 'sample-spend.csv',
      linesRead: 20,
      keys: 20,
      keysInserted: 20,
      keysReplaced: 0,
      siteIds: [SITE],
      days: 2,
      firstDay: '2026-03-01',
      lastDay: '2026-03-02',
      totals: [{ currency: 'RUB', cost: '26053.20' }],
      runId: result.runId,
    })
    const rows = await spendRows(tw)
    expect(rows.length).toBe(20)
    expect(rows.slice(0, 3).map(({ imported_at: _, ...row }) => row)).toEqual([
      {
        site_id: SITE,
        spend_date: '2026-03-01',
        source: 'google',
        medium: 'cpc',
        campaign: 'pmax_moscow',
        cost: '1180.35',
        currency: 'RUB',
        source_file: 'sample-spend.csv',
      },
      {
        site_id: SITE,
        spend_date: '2026-03-01',
        source: 'google',
        medium: 'cpc',
        campaign: 'search_brand',
        cost: '640.00',
        currency: 'RUB',
        source_file: 'sample-spend.csv',
      },
      {
        site_id: SITE,
        spend_date: '2026-03-01',
        source: 'google',
        medium: 'cpc',
        campaign: 'Поиск — Ремонт',
        cost: '990.00',
        currency: 'RUB',
        source_file: 'sample-spend.csv',
      },
    ])
    const [total] = await executeSql<{ cost: string }>(
      tw.warehouse.db,
      'select sum(cost) as cost from marketing.ad_spend',
    )
    expect(total).toEqual({ cost: '26053.20' })
    for (const row of rows) {
      expect(row.imported_at.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1_000)
      expect(row.imported_at.getTime()).toBeLessThanOrEqual(Date.now() + 1_000)
    }
    const run = await tw.warehouse.db
      .selectFrom('etl.runs')
      .selectAll()
      .where('run_id', '=', result.runId)
      .executeTakeFirstOrThrow()
    expect(run).toMatchObject({
      command: 'spend import',
      arguments: { file: 'sample-spend.csv', sites: [SITE] },
      status: 'succeeded',
      error: null,
      counters: { lines_read: 20, keys_upserted: 20, keys_inserted: 20, keys_replaced: 0, days: 2 },
    })
  })

  it('replaces on re-import exactly the rows the file covers, and keeps rows of other keys', async () => {
    await spendJob(
      tw.warehouse,
      spendFile('march.csv', `${HEADER}\n2026-03-01,yandex,cpc,a,10.00\n2026-03-02,yandex,cpc,a,20.00\n`),
    )
    await spendJob(tw.warehouse, spendFile('other.csv', `${HEADER}\n2026-03-01,google,cpc,b,5.55\n`))
    const [firstImport] = await spendRows(tw)
    const result = await spendJob(
      tw.warehouse,
      spendFile('march-fixed.csv', `${HEADER}\n2026-03-02,yandex,cpc,a,25.50\n2026-03-03,yandex,cpc,a,0\n`),
    )
    expect([result.keysInserted, result.keysReplaced]).toEqual([1, 1])
    expect(await spendTuples(tw)).toEqual([
      [SITE, '2026-03-01', 'google', 'cpc', 'b', '5.55', 'RUB', 'other.csv'],
      [SITE, '2026-03-01', 'yandex', 'cpc', 'a', '10.00', 'RUB', 'march.csv'],
      [SITE, '2026-03-02', 'yandex', 'cpc', 'a', '25.50', 'RUB', 'march-fixed.csv'],
      [SITE, '2026-03-03', 'yandex', 'cpc', 'a', '0.00', 'RUB', 'march-fixed.csv'],
    ])
    const replaced = (await spendRows(tw)).find((row) => row.spend_date === '2026-03-02')
    expect(replaced!.imported_at.getTime()).toBeGreaterThanOrEqual(firstImport!.imported_at.getTime())
  })

  it('adds up lines of one key in a file to the kopeck, far beyond what a float holds exactly', async () => {
    const cents = Array.from({ length: 1_000 }, () => '2026-03-01,yandex,cpc,a,0.01').join('\n')
    await spendJob(
      tw.warehouse,
      spendFile(
        'sums.csv',
        `${HEADER}\n${cents}\n2026-03-02,yandex,cpc,a,"4503599627370495,99"\n2026-03-02,yandex,cpc,a,0.01\n2026-03-02,yandex,cpc,a,0.09\n`,
      ),
    )
    expect((await spendTuples(tw)).map((row) => row[5])).toEqual(['10.00', '4503599627370496.09'])
  })

  it('writes none of a file when the warehouse refuses part of it, and records the run as failed', async () => {
    await spendJob(tw.warehouse, spendFile('kept.csv', `${HEADER}\n2026-03-01,yandex,cpc,a,1.00\n`))
    const before = await spendRows(tw)
    // A rule the parser does not know, standing in for any failure inside the statement.
    await executeSql(tw.warehouse.db, 'alter table marketing.ad_spend add constraint test_cap check (cost < 1000)')
    try {
      const file = spendFile('too-big.csv', `${HEADER}\n2026-03-01,yandex,cpc,a,2.00\n2026-03-02,yandex,cpc,b,5000\n`)
      const error = await spendJob(tw.warehouse, file).then(
        () => undefined,
        (caught: unknown) => caught,
      )
      expect(error).toMatchObject({
        code: 'WAREHOUSE',
        message:
          'could not import too-big.csv into marketing.ad_spend: new row for relation "ad_spend" violates check constraint "test_cap"',
      })
      expect(await spendRows(tw)).toEqual(before)
      const runId = (error as { context: { runId: string } }).context.runId
      const run = await tw.warehouse.db
        .selectFrom('etl.runs')
        .selectAll()
        .where('run_id', '=', runId)
        .executeTakeFirstOrThrow()
      expect(run).toMatchObject({
        command: 'spend import',
        status: 'failed',
        counters: {},
        error: (error as Error).message,
      })
    } finally {
      await executeSql(tw.warehouse.db, 'alter table marketing.ad_spend drop constraint test_cap')
    }
  })

  it('loads a Russian spreadsheet export and sites from its own site_id column', async () => {
    await spendJob(tw.warehouse, await loadSpendFile(`${FIXTURES}russian-export-cp1251.csv`, SITE))
    await spendJob(
      tw.warehouse,
      spendFile(
        'sites.csv',
        'Site_Id;Date;Source;Medium;Campaign;Cost;Currency\n777;05.03.2026;google;cpc;x;1 000,5;usd\n',
      ),
    )
    expect(await spendTuples(tw)).toEqual([
      [777, '2026-03-05', 'google', 'cpc', 'x', '1000.50', 'USD', 'sites.csv'],
      [SITE, '2026-03-01', 'yandex', 'cpc', 'brand_moscow', '1234.55', 'RUB', 'russian-export-cp1251.csv'],
      [SITE, '2026-03-01', 'yandex', 'cpc', 'Поиск; Москва', '2000.00', 'RUB', 'russian-export-cp1251.csv'],
      [SITE, '2026-03-02', 'google', 'cpc', 'search_brand', '15300.70', 'RUB', 'russian-export-cp1251.csv'],
      [SITE, '2026-03-02', 'vk', 'social', 'Акция "Весна"', '99.00', 'RUB', 'russian-export-cp1251.csv'],
    ])
  })
})

describeEachEngine('calltouch-etl spend import', (engine) => {
  let tw: TestWarehouse
  let earlier: { rows: SpendRow[]; runs: number }
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    // Rows already there, which a refused file must leave exactly as they are.
    await spendJob(
      tw.warehouse,
      spendFile(
        'earlier.csv',
        `${HEADER}\n2026-03-01,yandex,cpc,brand_moscow,100.00\n2026-03-03,vk,social,vk_promo,7.00\n`,
      ),
    )
    earlier = await read()
    await tw.release()
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  async function read(): Promise<{ rows: SpendRow[]; runs: number }> {
    const [runs] = await executeSql<{ count: number }>(tw.warehouse.db, 'select count(*)::int as count from etl.runs')
    return { rows: await spendRows(tw), runs: runs!.count }
  }

  /** The warehouse's spend and run count, read between CLI runs (the embedded warehouse is one process's at a time). */
  async function snapshot(): Promise<{ rows: SpendRow[]; runs: number }> {
    await tw.reopen()
    try {
      return await read()
    } finally {
      await tw.release()
    }
  }

  it('refuses a file with 3 bad lines, naming each, exits 2 and leaves the warehouse exactly as it was', async () => {
    const result = await runCli(['spend', 'import', `${FIXTURES}bad-lines.csv`, '--site', String(SITE)], tw.env)
    expect(result).toEqual({
      exitCode: 2,
      stdout: '',
      stderr:
        'error: bad-lines.csv: 3 bad lines — line 4: date "31.02.2026" is not a real date (use YYYY-MM-DD or DD.MM.YYYY); ' +
        'line 6: 4 fields where the header has 5 (a value is missing: leave an empty field for it); line 7: cost "-5" is negative; nothing was imported\n',
    })
    expect(await snapshot()).toEqual(earlier)
  })

  it('imports a file with the site from CALLTOUCH_SITE_ID, replacing the keys it shares with earlier imports, and prints one summary line', async () => {
    const env = { ...tw.env, CALLTOUCH_SITE_ID: String(SITE) }
    const first = await runCli(['spend', 'import', `${FIXTURES}sample-spend.csv`, '--log-level', 'warn'], env)
    expect(first).toEqual({
      exitCode: 0,
      stderr: '',
      // earlier.csv already had 2026-03-01 yandex/cpc/brand_moscow
      stdout:
        'Imported sample-spend.csv into marketing.ad_spend: 20 lines read, 20 keys upserted (19 new, 1 replaced), ' +
        '2 days from 2026-03-01 to 2026-03-02, site 12345, total 26053.20 RUB.\n',
    })
    const { rows, runs } = await snapshot()
    expect(rows.length).toBe(21)
    expect(
      rows
        .filter((row) => row.campaign === 'brand_moscow' || row.campaign === 'vk_promo')
        .map((row) => [row.spend_date, row.campaign, row.cost, row.source_file]),
    ).toEqual([
      ['2026-03-01', 'vk_promo', '300.00', 'sample-spend.csv'],
      ['2026-03-01', 'brand_moscow', '1520.40', 'sample-spend.csv'],
      ['2026-03-02', 'vk_promo', '0.00', 'sample-spend.csv'],
      ['2026-03-02', 'brand_moscow', '1498.10', 'sample-spend.csv'],
      ['2026-03-03', 'vk_promo', '7.00', 'earlier.csv'],
    ])
    expect(runs).toBe(2)
  })
})

describe('calltouch-etl spend', () => {
  // None of these opens the warehouse: the options and the file are checked first.
  it('answers a missing file, a bad --site, a bad CALLTOUCH_SITE_ID, and no site with one line and exit code 2', async () => {
    const env = { CALLTOUCH_ETL_DATA_DIR: path.join(os.tmpdir(), 'calltouch-etl-spend-never-opened') }
    const sample = `${FIXTURES}sample-spend.csv`
    const missing = path.join(os.tmpdir(), 'calltouch-etl-no-such-spend.csv')
    const answers = await Promise.all([
      runCli(['spend', 'import', missing, '--site', '1'], env),
      runCli(['spend', 'import', sample, '--site', 'abc'], env),
      runCli(['spend', 'import', sample], { ...env, CALLTOUCH_SITE_ID: '12,13' }),
      runCli(['spend', 'import', sample], env),
    ])
    expect(answers).toEqual([
      { exitCode: 2, stdout: '', stderr: `error: cannot read spend file ${missing}: no such file — check the path\n` },
      {
        exitCode: 2,
        stdout: '',
        stderr: 'error: --site must be a Calltouch site id (a positive integer), got "abc"\n',
      },
      {
        exitCode: 2,
        stdout: '',
        stderr:
          'error: CALLTOUCH_SITE_ID must be a Calltouch site id (a positive integer), got "12,13": fix it, or pass --site ID\n',
      },
      {
        exitCode: 2,
        stdout: '',
        stderr:
          'error: sample-spend.csv: no site is given for its spend: pass --site ID (or add a site_id column, or set CALLTOUCH_SITE_ID); nothing was imported\n',
      },
    ])
    await expect(fs.access(env.CALLTOUCH_ETL_DATA_DIR)).rejects.toThrow('ENOENT')
  })
})
