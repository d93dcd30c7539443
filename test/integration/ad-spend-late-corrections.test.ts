import { afterAll, beforeAll, expect, it } from 'vitest'
import { DEFAULT_AD_ACCOUNT_SETTINGS } from '../../pipelines/core/ad-account.ts'
import { addDays, todayIn } from '../../pipelines/core/day.ts'
import { silentLogger } from '../../pipelines/core/logger.ts'
import type { YandexDirectAccount } from '../../pipelines/sources/yandex-direct/config.ts'
import { syncYandexDirectAccount } from '../../pipelines/sources/yandex-direct/sync-account.ts'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const ZONE = 'Europe/Moscow'
const LOGIN = 'late-client'
const TOKEN = 'late-client-token'
const MS_PER_DAY = 86_400_000

/**
 * Direct refines statistics for about three days, sometimes much later (invalid clicks filtered
 * weeks on). The look-back (10 days) cannot see a correction 30 days back; the periodic re-read
 * (every day of the last 60 last read 7 or more days ago) does. The ledger's ages come from the
 * database's clock, so the runs' clock starts at the real now and moves forward with the
 * simulator's.
 */
describeEachEngine('a Direct statistics correction older than the look-back', (engine) => {
  let tw: TestWarehouse
  let sim: RunningSimulator
  const start = new Date()
  const today = todayIn(ZONE, start)
  const correctedDay = addDays(today, -30)

  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    sim = await startSimulator({
      now: start.toISOString(),
      timeZone: ZONE,
      yandexDirect: { accounts: [{ login: LOGIN, token: TOKEN, historyStart: addDays(today, -90) }] },
    })
  })
  afterAll(async () => {
    await sim?.close()
    await tw?.destroy()
  })

  const account = (): YandexDirectAccount => ({
    type: 'yandex-direct',
    token: TOKEN,
    clientLogin: LOGIN,
    siteId: 12345,
    startDate: addDays(today, -45),
    timeZone: ZONE,
    utm: { source: 'yandex', medium: 'cpc', campaign: 'id' },
    baseUrl: sim.url,
    where: 'adAccounts[0]',
  })
  const nightAfter = async (days: number) => {
    const now = new Date(start.getTime() + days * MS_PER_DAY)
    sim.setClock(now.toISOString())
    return syncYandexDirectAccount({
      db: tw.warehouse.db,
      runId: await startRun(tw.warehouse.db, 'sync'),
      account: account(),
      mode: { kind: 'sync' },
      settings: DEFAULT_AD_ACCOUNT_SETTINGS,
      now,
      logger: silentLogger(),
      timing: { retryInScaleMs: 50, reportTimeoutMs: 20_000 },
    })
  }
  const storedCost = async (campaignId: string) => {
    const [row] = await executeSql<{ cost_micros: string }>(
      tw.warehouse.db,
      `select cost_micros::text as cost_micros from marketing.ad_campaign_stats
       where account = $1 and stat_date = $2::date and campaign_id = $3::bigint`,
      [LOGIN, correctedDay, campaignId],
    )
    return row?.cost_micros
  }

  it('is missed by the nightly look-back and caught by the periodic re-read a week after the day was last read', async () => {
    expect(await nightAfter(0)).toMatchObject({ daysRead: 46, failures: [], error: null })
    const campaign = sim.yandexDirect.expectedRows(LOGIN, correctedDay, correctedDay)[0]
    if (campaign === undefined) throw new Error(`the simulator has no activity on ${correctedDay}`)
    expect(await storedCost(campaign.campaignId)).toBe(campaign.costMicros.toString())

    sim.yandexDirect.correct({
      login: LOGIN,
      campaignId: campaign.campaignId,
      day: correctedDay,
      costMicros: '1230000',
    })
    // The next night re-reads the last 10 days, today included: the correction 30 days back is not among them.
    expect(await nightAfter(1)).toMatchObject({ daysRead: 10, failures: [], error: null })
    expect(await storedCost(campaign.campaignId)).toBe(campaign.costMicros.toString())
    // A week on, every day of the last 60 read 7 or more days ago is read again.
    expect(await nightAfter(8)).toMatchObject({ deleted: 0, failures: [], error: null })
    expect(await storedCost(campaign.campaignId)).toBe('1230000')
    // Every campaign-day of the account now equals what Direct reports, the corrected one included.
    const lastDay = addDays(today, 8)
    const stored = await executeSql<{ row: string }>(
      tw.warehouse.db,
      `select to_char(stat_date, 'YYYY-MM-DD') || ' ' || campaign_id || ' ' || impressions || ' ' || clicks || ' ' || cost_micros as row
       from marketing.ad_campaign_stats where account = $1 order by stat_date, campaign_id`,
      [LOGIN],
    )
    expect(stored.map(({ row }) => row)).toEqual(
      sim.yandexDirect
        .expectedRows(LOGIN, addDays(today, -45), lastDay)
        .map((row) => `${row.day} ${row.campaignId} ${row.impressions} ${row.clicks} ${row.costMicros}`),
    )
  })
})
