import { DateTime } from 'luxon'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { readWarehouseStatus } from '../../pipelines/operate/site-status.ts'
import { executeSql, type Warehouse } from '../../pipelines/warehouse/connection.ts'
import { finishRun, startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { runCli } from '../helpers/cli.ts'
import { runMain } from '../helpers/run-main.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const NOW = new Date('2026-11-29T09:00:00Z') // 12:00 in Moscow

async function insertSiteDay(
  warehouse: Warehouse,
  row: {
    siteId: number
    day: string
    runId: string
    status: 'ok' | 'failed'
    succeededAt: string | null
    error?: string
    attempts?: number
  },
): Promise<void> {
  await executeSql(
    warehouse.db,
    `insert into etl.ledger (source, account, day, last_extracted_at, run_id, records, status, error, last_succeeded_at, attempts)
     values ('calltouch-deals', $1, $2, coalesce($5::timestamptz, '2026-11-28T23:00:00Z'), $3, 10, $4, $6, $5, $7)`,
    [String(row.siteId), row.day, row.runId, row.status, row.succeededAt, row.error ?? null, row.attempts ?? 1],
  )
}

async function insertDeal(
  warehouse: Warehouse,
  siteId: number,
  orderNumber: string,
  orderDay: string,
  isDeleted = false,
): Promise<void> {
  await executeSql(
    warehouse.db,
    `insert into calltouch.orders (site_id, order_number, order_day, is_deleted, payload_hash, first_seen_at, last_changed_at, last_seen_at)
     values ($1, $2, $3, $4, 'h', now(), now(), now())`,
    [siteId, orderNumber, orderDay, isDeleted],
  )
}

describeEachEngine('calltouch-etl status', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    await tw.release()
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  /** The command in this process, or with `child` as a real child process. */
  async function cli(args: string[], env: Record<string, string> = {}, options: { child?: boolean } = {}) {
    await tw.release()
    try {
      return await (options.child ? runCli : runMain)(['status', ...args], { ...tw.env, ...env })
    } finally {
      await tw.reopen()
    }
  }

  it('exits 1 on an empty warehouse with nothing configured, and says why', async () => {
    const result = await cli([])
    expect(result.stderr).toBe('')
    expect(result.exitCode).toBe(1)
    expect(result.stdout).toBe(
      'Not healthy: no site is configured, so nothing says which sites must be fresh: set CALLTOUCH_SITE_ID and CALLTOUCH_API_TOKEN, or pass --config (or set CALLTOUCH_CONFIG).\n' +
        'Not healthy: the warehouse holds no read of any site yet: run calltouch-etl sync.\n',
    )
    const json = await cli(['--json'])
    expect(json.exitCode).toBe(1)
    expect(JSON.parse(json.stdout)).toMatchObject({ healthy: false, sites: [], problems: expect.any(Array) })
  })

  it('exits 1 on an empty warehouse when a site is configured: the site was never read', async () => {
    const result = await cli([], { CALLTOUCH_SITE_ID: '901', CALLTOUCH_API_TOKEN: 'secret-token-901' })
    expect(result.exitCode).toBe(1)
    expect(result.stdout).toContain('site 901 stale: never read completely: run calltouch-etl sync\n')
    expect(result.stdout).toMatch(
      /\nNot healthy: the warehouse holds no read of any site yet: run calltouch-etl sync\.\nNot healthy: a site is failing, or stale beyond 36 h\.\n$/,
    )
  })

  it('refuses a stale threshold that is not a positive number with exit code 2', async () => {
    const result = await cli(['--stale-after-hours', 'soon'])
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toBe('error: --stale-after-hours must be a positive number of hours, got "soon"\n')
  })

  it('shows a site read completely an hour ago as ok in a table and exits 0', async () => {
    const warehouse = await tw.reopen()
    const runId = await startRun(warehouse.db, 'sync')
    await finishRun(warehouse.db, runId, { status: 'succeeded' })
    const succeededAt = new Date(Date.now() - 3_600_000)
    const today = DateTime.now().setZone('Europe/Moscow').toISODate() as string
    await insertSiteDay(warehouse, {
      siteId: 900,
      day: today,
      runId,
      status: 'ok',
      succeededAt: succeededAt.toISOString(),
    })
    const result = await cli([], { CALLTOUCH_SITE_ID: '900', CALLTOUCH_API_TOKEN: 'secret-token-900' })
    await executeSql(tw.warehouse.db, `delete from etl.ledger where source = 'calltouch-deals' and account = '900'`)
    expect(result.stderr).toBe('')
    expect(result.exitCode).toBe(0)
    const read = `${succeededAt.toISOString().slice(0, 16).replace('T', ' ')} UTC (1 h ago)`
    const lines = result.stdout.split('\n')
    expect(lines[1]).toMatch(
      /^│ site │ state │ last complete read +│ days behind │ failed days │ rejected \(30 d\) │ deals │ deals \(30 d\) │ leads \(30 d\) │ days without spend \(30 d\) │$/,
    )
    expect(lines[3]).toBe(
      `│ 900  │ ok    │ ${read} │           0 │           0 │               0 │     0 │            0 │            — │                    0 of 0 │`,
    )
    expect(lines.slice(5)).toEqual(['All sites are ok.', ''])
  })

  it('reports per site the last complete read, days behind, failed days, rejected records, deals and spend coverage', async () => {
    const warehouse = await tw.reopen()
    const runId = await startRun(warehouse.db, 'sync')
    await finishRun(warehouse.db, runId, { status: 'partial' })
    for (const day of ['2026-11-26', '2026-11-27', '2026-11-28']) {
      await insertSiteDay(warehouse, { siteId: 12345, day, runId, status: 'ok', succeededAt: '2026-11-29T00:10:00Z' })
    }
    await insertSiteDay(warehouse, {
      siteId: 777,
      day: '2026-11-27',
      runId,
      status: 'ok',
      succeededAt: '2026-11-27T00:00:00Z',
    })
    await insertSiteDay(warehouse, {
      siteId: 777,
      day: '2026-11-28',
      runId,
      status: 'failed',
      succeededAt: null,
      error: 'HTTP 503 after 7 attempts',
      attempts: 3,
    })
    await insertDeal(warehouse, 12345, 'a1', '2026-11-28')
    await insertDeal(warehouse, 12345, 'a2', '2026-11-28')
    await insertDeal(warehouse, 12345, 'a3', '2026-11-27', true)
    await insertDeal(warehouse, 12345, 'a4', '2026-11-20')
    await insertDeal(warehouse, 12345, 'a5', '2026-09-01')
    await executeSql(
      warehouse.db,
      `insert into marketing.ad_spend (site_id, spend_date, source, medium, campaign, cost, source_file) values (12345, '2026-11-28', 'yandex', 'cpc', 'brand', 100.50, 'spend.csv')`,
    )
    for (const rejectedAt of ['2026-11-27T09:00:00Z', '2026-10-20T09:00:00Z']) {
      await executeSql(
        warehouse.db,
        `insert into etl.rejected_records (run_id, site_id, order_number, day_from, day_to, reason, record, rejected_at) values ($1, 12345, 'bad', '2026-11-27', '2026-11-28', 'orderDate does not parse', '{}', $2)`,
        [runId, rejectedAt],
      )
    }

    const status = await readWarehouseStatus(warehouse.db, {
      sites: [
        { siteId: 12345, timeZone: 'Europe/Moscow' },
        { siteId: 555, timeZone: 'Asia/Yekaterinburg' },
      ],
      defaultTimeZone: 'Europe/Moscow',
      now: NOW,
    })
    expect(status).toEqual({
      generatedAt: '2026-11-29T09:00:00.000Z',
      staleAfterHours: 36,
      recentDays: 30,
      healthy: false,
      adAccounts: [],
      spendOverlaps: [],
      problems: [],
      sites: [
        {
          siteId: 555,
          timeZone: 'Asia/Yekaterinburg',
          configured: true,
          state: 'stale',
          problems: ['never read completely: run calltouch-etl sync'],
          lastSuccessAt: null,
          lastSuccessRunId: null,
          hoursSinceSuccess: null,
          newestOkDay: null,
          daysBehind: null,
          failedDays: [],
          rejectedRecords: 0,
          deals: { total: 0, recent: 0 },
          spendCoverage: { daysWithDeals: 0, daysWithoutSpend: [] },
          leadStreams: [],
        },
        {
          siteId: 777,
          timeZone: 'Europe/Moscow',
          configured: false,
          state: 'failing',
          problems: [
            '1 day(s) failed, first 2026-11-28: HTTP 503 after 7 attempts',
            'last complete read 57 h ago, more than 36 h',
          ],
          lastSuccessAt: '2026-11-27T00:00:00.000Z',
          lastSuccessRunId: runId,
          hoursSinceSuccess: 57,
          newestOkDay: '2026-11-27',
          daysBehind: 2,
          failedDays: [
            {
              day: '2026-11-28',
              error: 'HTTP 503 after 7 attempts',
              attempts: 3,
              lastExtractedAt: '2026-11-28T23:00:00.000Z',
            },
          ],
          rejectedRecords: 0,
          deals: { total: 0, recent: 0 },
          spendCoverage: { daysWithDeals: 0, daysWithoutSpend: [] },
          leadStreams: [],
        },
        {
          siteId: 12345,
          timeZone: 'Europe/Moscow',
          configured: true,
          state: 'ok',
          problems: [],
          lastSuccessAt: '2026-11-29T00:10:00.000Z',
          lastSuccessRunId: runId,
          hoursSinceSuccess: 8.8,
          newestOkDay: '2026-11-28',
          daysBehind: 1,
          failedDays: [],
          rejectedRecords: 1,
          deals: { total: 5, recent: 4 },
          spendCoverage: { daysWithDeals: 2, daysWithoutSpend: ['2026-11-20'] },
          leadStreams: [],
        },
      ],
    })
  })

  it('exits 1 and says why when a site is failing, in the table and in --json', async () => {
    const table = await cli(
      [],
      { CALLTOUCH_SITE_ID: '12345', CALLTOUCH_API_TOKEN: 'secret-token-12345' },
      { child: true },
    )
    expect(table.exitCode).toBe(1)
    expect(table.stdout).toMatch(
      /\nsite 777 failing: 1 day\(s\) failed, first 2026-11-28: HTTP 503 after 7 attempts\nsite 777 failing: last complete read \d+(\.\d)? h ago, more than 36 h\n {2}2026-11-28 failed \(3 attempt\(s\)\): HTTP 503 after 7 attempts\n/,
    )
    expect(table.stdout).toMatch(
      /\n│ 777 \(not configured\) │ failing │ 2026-11-27 00:00 UTC \(\d+(\.\d)? h ago\) +│ +\d+ │ +1 │/,
    )
    expect(table.stdout).toMatch(/Not healthy: a site is failing, or stale beyond 36 h\.\n$/)
    const json = await cli(['--json', '--stale-after-hours', '100000'])
    expect(json.exitCode).toBe(1)
    const parsed = JSON.parse(json.stdout) as {
      healthy: boolean
      staleAfterHours: number
      sites: { siteId: number; state: string; problems: string[] }[]
    }
    expect(parsed.healthy).toBe(false)
    expect(parsed.staleAfterHours).toBe(100000)
    expect(parsed.sites.map((site) => [site.siteId, site.state, site.problems])).toEqual([
      [777, 'failing', ['1 day(s) failed, first 2026-11-28: HTTP 503 after 7 attempts']],
      [12345, 'ok', []],
    ])
  })
})
