import { afterAll, beforeAll, expect, it } from 'vitest'
import { EtlError } from '../../pipelines/core/errors.ts'
import { storeCampaignDays, type CampaignDaysRead } from '../../pipelines/warehouse/campaign-stats.ts'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { readLedger } from '../../pipelines/warehouse/ledger.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

describeEachEngine('storing a read of an ad account', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  const read = async (account: string, rows: CampaignDaysRead['rows']): Promise<CampaignDaysRead> => ({
    source: 'vk-ads',
    account,
    siteId: 7,
    firstDay: '2026-12-01',
    lastDay: '2026-12-03',
    runId: await startRun(tw.warehouse.db, 'sync'),
    currency: 'RUB',
    includesVat: false,
    rows,
  })
  const row = (day: string, campaignId: string, costMicros: bigint, campaignName = `plan ${campaignId}`) => ({
    day,
    campaignId,
    campaignName,
    impressions: 10,
    clicks: 2,
    costMicros,
  })
  const stored = (account: string) =>
    executeSql<{ row: string }>(
      tw.warehouse.db,
      `select to_char(stat_date, 'YYYY-MM-DD') || ' ' || campaign_id || ' ' || campaign_name || ' ' || cost_micros || ' ' || cost as row
       from marketing.ad_campaign_stats where account = $1 order by stat_date, campaign_id`,
      [account],
    ).then((rows) => rows.map((r) => r.row))

  it('writes new and changed campaign-days, leaves unchanged ones, deletes vanished ones and keeps every name', async () => {
    const first = await storeCampaignDays(
      tw.warehouse.db,
      await read('a', [
        row('2026-12-01', '11', 9_223_372_036_854_775_807n),
        row('2026-12-02', '11', 1_230_000n),
        row('2026-12-02', '12', 0n),
        { ...row('2026-12-03', '13', 0n), impressions: 0, clicks: 0 },
      ]),
    )
    expect(first).toEqual({ inserted: 3, updated: 0, deleted: 0, unchanged: 0, namesAdded: 2 })
    const second = await storeCampaignDays(
      tw.warehouse.db,
      await read('a', [
        row('2026-12-01', '11', 9_223_372_036_854_775_807n),
        row('2026-12-02', '11', 1_240_000n, 'renamed 11'),
      ]),
    )
    expect(second).toEqual({ inserted: 0, updated: 1, deleted: 1, unchanged: 1, namesAdded: 1 })
    expect(await stored('a')).toEqual([
      '2026-12-01 11 plan 11 9223372036854775807 9223372036854.775807',
      '2026-12-02 11 renamed 11 1240000 1.240000',
    ])
    const names = await executeSql<{ name: string }>(
      tw.warehouse.db,
      `select campaign_id || ' ' || campaign_name as name from marketing.ad_campaign_names where account = 'a' order by 1`,
    )
    expect(names.map((n) => n.name)).toEqual(['11 plan 11', '11 renamed 11', '12 plan 12'])
    expect(
      (await readLedger(tw.warehouse.db, { source: 'vk-ads', account: 'a' })).map((d) => [d.day, d.records, d.status]),
    ).toEqual([
      ['2026-12-01', 1, 'ok'],
      ['2026-12-02', 1, 'ok'],
      ['2026-12-03', 0, 'ok'],
    ])
  })

  it('refuses a read that breaks a rule whole, naming the row, and writes nothing of it', async () => {
    const cases: [CampaignDaysRead['rows'], string][] = [
      [[row('2026-12-04', '1', 1n)], 'has a day outside it: campaign 1 on 2026-12-04'],
      [[row('2026-12-01', '1', 1n), row('2026-12-01', '1', 2n)], 'holds campaign 1 on 2026-12-01 twice'],
      [[row('2026-12-01', 'x1', 1n)], 'has a campaign id that is not a number: campaign x1 on 2026-12-01'],
      [
        [{ ...row('2026-12-01', '1', 1n), clicks: -1 }],
        'has impressions or clicks that are not whole numbers ≥ 0: campaign 1 on 2026-12-01',
      ],
      [[row('2026-12-01', '1', -1n)], 'has a cost out of range: campaign 1 on 2026-12-01'],
    ]
    for (const [rows, problem] of cases) {
      const refused = storeCampaignDays(tw.warehouse.db, await read('b', [row('2026-12-02', '5', 5n), ...rows]))
      await expect(refused).rejects.toThrow(EtlError)
      await expect(refused).rejects.toThrow(
        `vk-ads account b 2026-12-01..2026-12-03: the platform's answer ${problem}; the days stay due and are read again`,
      )
    }
    expect(await stored('b')).toEqual([])
    expect(await readLedger(tw.warehouse.db, { source: 'vk-ads', account: 'b' })).toEqual([])
  })
})
