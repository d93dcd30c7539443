import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest'
import { DEFAULT_AD_ACCOUNT_SETTINGS, type AdAccountSettings } from '../../pipelines/core/ad-account.ts'
import { addDays } from '../../pipelines/core/day.ts'
import { createLogger } from '../../pipelines/core/logger.ts'
import type { VkAdsAccount } from '../../pipelines/sources/vk-ads/config.ts'
import { syncVkAdsAccount } from '../../pipelines/sources/vk-ads/sync-account.ts'
import { readTokenState, tokenStatePath } from '../../pipelines/sources/vk-ads/token-store.ts'
import type { AccountRunMode } from '../../pipelines/warehouse/account-days.ts'
import { executeSql, type WarehouseDb } from '../../pipelines/warehouse/connection.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { DEFAULT_NOW, startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const CLIENT_ID = 'vk-test-client'
const CLIENT_SECRET = 'vk-test-secret'
const ZONE = 'Europe/Moscow'
/** The simulator's default clock is 2026-11-29 12:00 Moscow. */
const TODAY = '2026-11-29'
/** Statistics reach back 366 days, today included. */
const EARLIEST_DAY = addDays(TODAY, -365)

/** A campaign-day as the warehouse holds it, in the simulator's expectedRows shape. */
interface StoredRow {
  day: string
  campaignId: string
  campaignName: string
  impressions: number
  clicks: number
  costMicros: bigint
}

describeEachEngine('syncVkAdsAccount against the VK Ads simulator', (engine) => {
  let test: TestWarehouse
  let db: WarehouseDb
  let sim: RunningSimulator
  let stateDir: string
  let logLines: string[]

  beforeAll(async () => {
    test = await createTestWarehouse(engine)
    db = test.warehouse.db
    sim = await startSimulator({ port: 0, vkAds: {} })
  })

  afterAll(async () => {
    await sim?.close()
    await test?.destroy()
  })

  beforeEach(async () => {
    sim.reset()
    sim.setClock(DEFAULT_NOW)
    for (const table of ['marketing.ad_campaign_stats', 'marketing.ad_campaign_names'])
      await executeSql(db, `delete from ${table} where source_system = 'vk-ads'`)
    await executeSql(db, `delete from etl.ledger where source = 'vk-ads'`)
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'vk-ads-state-'))
    logLines = []
  })

  const account = (overrides: Partial<VkAdsAccount> = {}): VkAdsAccount => ({
    type: 'vk-ads',
    siteId: 12345,
    startDate: '2025-01-01',
    timeZone: ZONE,
    utm: { source: 'vk', medium: 'cpc', campaign: 'id' },
    baseUrl: sim.url,
    currency: undefined,
    where: 'adAccounts[0]',
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    ...overrides,
  })

  async function sync(
    mode: AccountRunMode,
    options: { settings?: Partial<AdAccountSettings>; account?: Partial<VkAdsAccount> } = {},
  ) {
    const logger = createLogger({
      format: 'json',
      level: 'trace',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(chunk.toString('utf8'))
          done()
        },
      }),
    })
    return syncVkAdsAccount({
      db,
      runId: await startRun(db, mode.kind),
      account: account(options.account),
      mode,
      settings: { ...DEFAULT_AD_ACCOUNT_SETTINGS, ...options.settings },
      now: new Date(sim.now()),
      stateDir,
      logger,
    })
  }

  const backfill: AccountRunMode = { kind: 'backfill', from: EARLIEST_DAY, to: TODAY }

  async function storedRows(): Promise<StoredRow[]> {
    const rows = await executeSql<{
      day: string
      campaign_id: string
      campaign_name: string
      impressions: string
      clicks: string
      cost_micros: string
    }>(
      db,
      `select stat_date::text as day, campaign_id::text as campaign_id, campaign_name, impressions::text as impressions,
              clicks::text as clicks, cost_micros::text as cost_micros
         from marketing.ad_campaign_stats where source_system = 'vk-ads' and account = $1
        order by stat_date, campaign_id`,
      [CLIENT_ID],
    )
    return rows.map((row) => ({
      day: row.day,
      campaignId: row.campaign_id,
      campaignName: row.campaign_name,
      impressions: Number(row.impressions),
      clicks: Number(row.clicks),
      costMicros: BigInt(row.cost_micros),
    }))
  }

  async function ledgerStatuses(): Promise<Record<string, number>> {
    const rows = await executeSql<{ status: string; days: string }>(
      db,
      `select status, count(*)::text as days from etl.ledger where source = 'vk-ads' and account = $1 group by status`,
      [CLIENT_ID],
    )
    return Object.fromEntries(rows.map((row) => [row.status, Number(row.days)]))
  }

  const expectedRows = (fromDay: string, toDay: string): StoredRow[] =>
    sim.vkAds.expectedRows(CLIENT_ID, fromDay, toDay).map((row) => ({ ...row }))

  it('backfills the 366 days VK keeps into exactly the rows the simulator serves, with one minted token', async () => {
    const result = await sync(backfill)
    const expected = expectedRows(EARLIEST_DAY, TODAY)
    expect(expected.length).toBeGreaterThan(1000)
    expect(await storedRows()).toEqual(expected)
    expect(result).toMatchObject({
      type: 'vk-ads',
      account: CLIENT_ID,
      siteId: 12345,
      currency: 'RUB',
      daysRead: 366,
      inserted: expected.length,
      updated: 0,
      deleted: 0,
      unchanged: 0,
      failures: [],
      error: null,
    })
    expect(await ledgerStatuses()).toEqual({ ok: 366 })
    expect(sim.vkAds.stats().accounts[CLIENT_ID]).toMatchObject({ tokenMints: 1, tokenRefreshes: 0, liveTokens: 1 })
  })

  it('writes nothing when the same days are read again, and reuses the stored token', async () => {
    const first = await sync(backfill)
    const before = await storedRows()
    const second = await sync(backfill)
    expect(second).toMatchObject({ inserted: 0, updated: 0, deleted: 0, unchanged: first.inserted, error: null })
    expect(await storedRows()).toEqual(before)
    expect(sim.vkAds.stats().accounts[CLIENT_ID]).toMatchObject({ tokenMints: 1, maxLiveTokens: 1 })
  })

  it('holds no more than one live token over 30 nightly runs a day apart, refreshing it each night', async () => {
    const startDate = '2026-10-25'
    let night = '2026-11-01'
    for (let run = 0; run < 30; run++, night = addDays(night, 1)) {
      sim.setClock(`${night}T03:00:00+03:00`)
      const result = await sync({ kind: 'sync' }, { account: { startDate } })
      expect({ night, error: result.error, failures: result.failures }).toEqual({ night, error: null, failures: [] })
    }
    const lastNight = addDays(night, -1)
    expect(await storedRows()).toEqual(expectedRows(startDate, lastNight))
    expect(sim.vkAds.stats().accounts[CLIENT_ID]).toMatchObject({
      tokenMints: 1,
      tokenRefreshes: 29,
      liveTokens: 1,
      maxLiveTokens: 1,
    })
  }, 180_000)

  it('keeps the token out of the result, the log, the state file name and every table', async () => {
    await sync(backfill)
    // A token VK expired mid-life is refreshed on the next call: the refresh path logs too.
    sim.vkAds.setFaults({ expireTokensNow: true })
    const result = await sync({ kind: 'backfill', from: addDays(TODAY, -2), to: TODAY })
    expect(result.error).toBeNull()
    const stored = await readTokenState(tokenStatePath(stateDir, CLIENT_ID), CLIENT_ID)
    const secrets = [stored?.accessToken, stored?.refreshToken, CLIENT_SECRET]
    expect(secrets.every((secret) => typeof secret === 'string' && secret.length > 8)).toBe(true)
    const names = (await fs.readdir(stateDir, { recursive: true })).join('\n')
    const tables = await executeSql<{ text: string }>(
      db,
      `select concat_ws(' ',
         (select string_agg(t::text, ' ') from marketing.ad_campaign_stats t),
         (select string_agg(t::text, ' ') from marketing.ad_campaign_names t),
         (select string_agg(t::text, ' ') from etl.ledger t),
         (select string_agg(t::text, ' ') from etl.runs t)) as text`,
    )
    const places = { result: JSON.stringify(result), log: logLines.join(''), names, tables: tables[0]?.text ?? '' }
    expect(places.log).toContain('refreshed the VK Ads token')
    expect(names).not.toContain(CLIENT_ID)
    for (const [place, text] of Object.entries(places))
      for (const secret of secrets)
        expect({ place, leaks: text.includes(secret as string) }).toEqual({ place, leaks: false })
  })

  it('fails the account with the one-line fix when VK refuses a new token, recording every planned day failed', async () => {
    for (let minted = 0; minted < 5; minted++) {
      const response = await fetch(`${sim.url}/api/v2/oauth2/token.json`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
        }),
      })
      expect(response.status).toBe(200)
    }
    const result = await sync({ kind: 'backfill', from: '2026-11-20', to: TODAY })
    const fix =
      `VK Ads refused a new token for client ${CLIENT_ID}: the app already holds 5 live tokens for this account; ` +
      `delete them (POST /api/v2/oauth2/token/delete.json with client_id and client_secret, see README) ` +
      `or restore the state file ${tokenStatePath(stateDir, CLIENT_ID)}, then run again`
    expect(result).toMatchObject({
      error: fix,
      daysRead: 0,
      currency: null,
      failures: [{ firstDay: '2026-11-20', lastDay: TODAY, error: fix }],
    })
    expect(await ledgerStatuses()).toEqual({ failed: 10 })
    expect(await storedRows()).toEqual([])
    expect(sim.vkAds.stats().accounts[CLIENT_ID]).toMatchObject({ liveTokens: 5, maxLiveTokens: 5 })
  })

  it('fails the account with the fix when the user withdrew access', async () => {
    await sync({ kind: 'backfill', from: TODAY, to: TODAY })
    sim.vkAds.revokeTokens(CLIENT_ID)
    const result = await sync({ kind: 'backfill', from: '2026-11-28', to: TODAY })
    expect(result.error).toBe(
      `VK Ads refused client ${CLIENT_ID} (revoked_token): access was revoked (the user withdrew it, or the client left the agency) — ` +
        `grant API access again, delete the old tokens (POST /api/v2/oauth2/token/delete.json, see README) and the state file ` +
        `${tokenStatePath(stateDir, CLIENT_ID)}, then run again`,
    )
    expect(await ledgerStatuses()).toEqual({ failed: 2 })
  })

  it('leaves the table as a calm read would through storms of 429s and server errors', async () => {
    const days: AccountRunMode = { kind: 'backfill', from: addDays(TODAY, -179), to: TODAY }
    await sync(days)
    const calm = await storedRows()
    await executeSql(db, `delete from marketing.ad_campaign_stats where source_system = 'vk-ads'`)
    await executeSql(db, `delete from etl.ledger where source = 'vk-ads'`)
    sim.vkAds.setFaults({ burst429: { rate: 0.4, length: 2 }, failureRate: 0.2 })
    const result = await sync(days, { settings: { maxRetries: 10 } })
    expect(result).toMatchObject({ error: null, failures: [], daysRead: 180 })
    expect(result.retries).toBeGreaterThan(0)
    expect(sim.vkAds.stats().faultsInjected.burst429).toBeGreaterThan(0)
    expect(await storedRows()).toEqual(calm)
  }, 120_000)

  it('stores a renamed plan under its id with the name it has when read', async () => {
    await sync({ kind: 'backfill', from: '2026-11-27', to: '2026-11-28' })
    sim.vkAds.renameAdPlan(CLIENT_ID, 6617841, 'vk_lookalike_v2')
    const result = await sync({ kind: 'backfill', from: '2026-11-27', to: '2026-11-28' })
    expect(result).toMatchObject({ inserted: 0, deleted: 0, error: null })
    const renamed = (await storedRows()).filter((row) => row.campaignId === '6617841')
    expect(renamed.map((row) => row.campaignName)).toEqual(['vk_lookalike_v2', 'vk_lookalike_v2'])
    const names = await executeSql<{ campaign_name: string }>(
      db,
      `select campaign_name from marketing.ad_campaign_names where source_system = 'vk-ads' and campaign_id = 6617841 order by campaign_name`,
    )
    expect(names.map((row) => row.campaign_name)).toEqual(['vk_lookalike', 'vk_lookalike_v2'])
  })

  it('records the currency VK states, and stops when the config names another', async () => {
    const result = await sync({ kind: 'backfill', from: TODAY, to: TODAY }, { account: { currency: 'USD' } })
    expect(result.error).toBe(
      `VK Ads says client ${CLIENT_ID} spends in RUB, but adAccounts[0] says currency USD: correct or remove the currency in the config, then run again`,
    )
  })
})
