import { afterAll, beforeAll, expect, it } from 'vitest'
import { formatMoney } from '../../pipelines/cli/commands/report.ts'
import { readRoiReport } from '../../pipelines/operate/roi-report.ts'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { runMain } from '../helpers/run-main.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

// The marts as issue 5 fixes their columns, filled by hand so that every number below is known.
const DAILY_ROWS: readonly (readonly [number, string, string, string, string, number, string, string])[] = [
  // site, day, source, medium, campaign, deals, revenue, spend
  [1, '2026-10-01', 'yandex', 'cpc', 'brand', 3, '30000.00', '10000.00'],
  [1, '2026-10-02', 'yandex', 'cpc', 'generic', 1, '0.00', '5000.50'],
  [1, '2026-10-02', 'google', 'cpc', 'brand', 2, '12000.00', '12000.00'],
  [1, '2026-10-31', '(none)', '(none)', '(none)', 4, '8000.00', '0.00'],
  [1, '2026-11-01', 'yandex', 'cpc', 'brand', 1, '1000000.00', '250.25'],
  [2, '2026-10-01', 'yandex', 'cpc', 'brand', 5, '1.00', '2.00'],
]

const MANAGER_ROWS: readonly (readonly [number, string, string, number, string, string])[] = [
  // site, month, manager, deals, revenue, spend
  [1, '2026-10-01', 'Коля', 4, '40000.00', '20000.00'],
  [1, '2026-10-01', 'Маша', 6, '10000.00', '7000.50'],
  [1, '2026-11-01', 'Маша', 1, '1000000.00', '250.25'],
]

describeEachEngine('calltouch-etl report roi', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  /** The command in this process; the embedded warehouse is released for it unless it fails before opening it. */
  async function cli(args: string[], options: { opensWarehouse?: boolean } = {}) {
    if (options.opensWarehouse === false) return runMain(['report', 'roi', ...args], tw.env)
    await tw.release()
    try {
      return await runMain(['report', 'roi', ...args], tw.env)
    } finally {
      await tw.reopen()
    }
  }

  it('says that the marts are not built yet and to run transform, with exit code 1', async () => {
    const result = await cli([])
    expect(result.exitCode).toBe(1)
    expect(result.stderr).toBe(
      'error: the ROI marts are not built yet (analytics.fct_marketing_daily does not exist): run calltouch-etl transform first\n',
    )
  })

  it('refuses a date that is not a real day, a from after to, and a bad site with exit code 2', async () => {
    expect(await cli(['--from', '2026-02-30'], { opensWarehouse: false })).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: 'error: --from 2026-02-30 is not a real date\n',
    })
    expect(await cli(['--from', '2026-11-02', '--to', '2026-11-01'], { opensWarehouse: false })).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: 'error: --from 2026-11-02 is after --to 2026-11-01: give the earlier day first\n',
    })
    expect(await cli(['--site', 'main'], { opensWarehouse: false })).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: 'error: --site must be a Calltouch site id (a positive integer), got "main"\n',
    })
    expect((await cli(['--by', 'week'], { opensWarehouse: false })).exitCode).toBe(2)
  })

  it('adds up the daily mart by channel, campaign and month, and the manager mart by manager, with exact totals', async () => {
    const db = tw.warehouse.db
    await executeSql(
      db,
      `create table analytics.fct_marketing_daily (site_id integer, date_day date, utm_source text, utm_medium text, utm_campaign text, deals integer, deals_with_revenue integer, revenue numeric(18,2), planned_revenue numeric(18,2), spend numeric(18,2), profit numeric(18,2), roi numeric)`,
    )
    await executeSql(
      db,
      `create table analytics.fct_manager_channel_monthly (site_id integer, date_month date, manager text, utm_source text, utm_medium text, utm_campaign text, deals integer, deals_with_revenue integer, revenue numeric(18,2), planned_revenue numeric(18,2), spend numeric(18,2), profit numeric(18,2), roi numeric)`,
    )
    for (const [site, day, source, medium, campaign, deals, revenue, spend] of DAILY_ROWS) {
      await executeSql(
        db,
        `insert into analytics.fct_marketing_daily (site_id, date_day, utm_source, utm_medium, utm_campaign, deals, revenue, spend) values ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [site, day, source, medium, campaign, deals, revenue, spend],
      )
    }
    for (const [site, month, manager, deals, revenue, spend] of MANAGER_ROWS) {
      await executeSql(
        db,
        `insert into analytics.fct_manager_channel_monthly (site_id, date_month, manager, utm_source, utm_medium, utm_campaign, deals, revenue, spend) values ($1, $2, $3, 'yandex', 'cpc', 'brand', $4, $5, $6)`,
        [site, month, manager, deals, revenue, spend],
      )
    }

    const october = { from: '2026-10-01', to: '2026-10-31', siteId: 1 }
    const byChannel = await readRoiReport(db, { by: 'channel', ...october })
    expect(byChannel.rows).toEqual([
      {
        keys: ['yandex', 'cpc'],
        deals: 4,
        revenue: '30000.00',
        spend: '15000.50',
        profit: '14999.50',
        roiPercent: '100.0',
      },
      { keys: ['google', 'cpc'], deals: 2, revenue: '12000.00', spend: '12000.00', profit: '0.00', roiPercent: '0.0' },
      { keys: ['(none)', '(none)'], deals: 4, revenue: '8000.00', spend: '0.00', profit: '8000.00', roiPercent: null },
    ])
    expect(byChannel.total).toEqual({
      keys: [],
      deals: 10,
      revenue: '50000.00',
      spend: '27000.50',
      profit: '22999.50',
      roiPercent: '85.2',
    })

    const byCampaign = await readRoiReport(db, { by: 'campaign', ...october })
    expect(byCampaign.rows.map((row) => [...row.keys, row.roiPercent])).toEqual([
      ['google', 'cpc', 'brand', '0.0'],
      ['yandex', 'cpc', 'brand', '200.0'],
      ['yandex', 'cpc', 'generic', '-100.0'],
      ['(none)', '(none)', '(none)', null],
    ])

    const byMonth = await readRoiReport(db, { by: 'month', from: null, to: null, siteId: null })
    expect(byMonth.rows).toEqual([
      { keys: ['2026-10'], deals: 15, revenue: '50001.00', spend: '27002.50', profit: '22998.50', roiPercent: '85.2' },
      {
        keys: ['2026-11'],
        deals: 1,
        revenue: '1000000.00',
        spend: '250.25',
        profit: '999749.75',
        roiPercent: '399500.4',
      },
    ])

    const byManager = await readRoiReport(db, { by: 'manager', from: '2026-10-15', to: '2026-10-20', siteId: 1 })
    expect(byManager.source).toBe('analytics.fct_manager_channel_monthly')
    expect(byManager.rows).toEqual([
      { keys: ['Коля'], deals: 4, revenue: '40000.00', spend: '20000.00', profit: '20000.00', roiPercent: '100.0' },
      { keys: ['Маша'], deals: 6, revenue: '10000.00', spend: '7000.50', profit: '2999.50', roiPercent: '42.8' },
    ])
  })

  it('prints the report as a table with a total line, and as JSON', async () => {
    const table = await cli(['--from', '2026-10-01', '--to', '2026-10-31', '--site', '1'])
    expect(table.stderr).toBe('')
    expect(table.exitCode).toBe(0)
    expect(table.stdout).toBe(
      [
        'ROI by channel, 2026-10-01 to 2026-10-31, site 1 (analytics.fct_marketing_daily)',
        '┌────────┬────────┬───────┬───────────┬───────────┬───────────┬────────┐',
        '│ source │ medium │ deals │   revenue │     spend │    profit │    ROI │',
        '├────────┼────────┼───────┼───────────┼───────────┼───────────┼────────┤',
        '│ yandex │ cpc    │     4 │ 30 000.00 │ 15 000.50 │ 14 999.50 │ 100.0% │',
        '├────────┼────────┼───────┼───────────┼───────────┼───────────┼────────┤',
        '│ google │ cpc    │     2 │ 12 000.00 │ 12 000.00 │      0.00 │   0.0% │',
        '├────────┼────────┼───────┼───────────┼───────────┼───────────┼────────┤',
        '│ (none) │ (none) │     4 │  8 000.00 │      0.00 │  8 000.00 │      — │',
        '├────────┼────────┼───────┼───────────┼───────────┼───────────┼────────┤',
        '│ total  │        │    10 │ 50 000.00 │ 27 000.50 │ 22 999.50 │  85.2% │',
        '└────────┴────────┴───────┴───────────┴───────────┴───────────┴────────┘',
        'ROI = (revenue − spend) / spend; — where there was no spend. Revenue: completed amounts of deals neither deleted nor removed.',
        '',
      ].join('\n'),
    )
    // The same rendering on either engine: the embedded one, slow to reopen, is spared two more runs.
    if (engine === 'pglite') return
    const json = await cli(['--by', 'month', '--json', '--site', '2'])
    expect(json.exitCode).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual({
      by: 'month',
      keyNames: ['month'],
      source: 'analytics.fct_marketing_daily',
      from: null,
      to: null,
      siteId: 2,
      rows: [{ keys: ['2026-10'], deals: 5, revenue: '1.00', spend: '2.00', profit: '-1.00', roiPercent: '-50.0' }],
      total: { keys: [], deals: 5, revenue: '1.00', spend: '2.00', profit: '-1.00', roiPercent: '-50.0' },
    })
    const empty = await cli(['--from', '2025-01-01', '--to', '2025-01-31'])
    expect(empty.stdout).toBe(
      'ROI by channel, 2025-01-01 to 2025-01-31, all sites (analytics.fct_marketing_daily): no rows. Run calltouch-etl sync and calltouch-etl transform, or widen --from/--to.\n',
    )
  })
})

it('formats money with grouped thousands from exact decimal text', () => {
  expect([
    formatMoney('1234567.5'),
    formatMoney('-1000.00'),
    formatMoney('12345678901234567.89'),
    formatMoney('0'),
  ]).toEqual(['1 234 567.50', '-1 000.00', '12 345 678 901 234 567.89', '0.00'])
})
