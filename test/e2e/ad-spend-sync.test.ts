import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { E2E_NOW, E2E_TOKEN, OutputLog, runE2eCli, scratchDir, writeConfigFile } from '../helpers/e2e-harness.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE = 12345
const START = '2026-11-01'
const TODAY = '2026-11-20'
const DIRECT_TOKEN = 'direct/SECRET+token.e2e'
const DIRECT_LOGIN = 'shop-client'
const VK_CLIENT = 'vk-e2e-client'
const VK_SECRET = 'vk/SECRET+secret.e2e'
const CLI_TEST_TIMEOUT_MS = 240_000

interface StatRow {
  day: string
  campaignId: string
  campaignName: string
  impressions: number
  clicks: number
  costMicros: string
}

/**
 * `sync` and `backfill` read the ad accounts' spend beside the deals, from the
 * Yandex Direct and VK Ads simulators over real HTTP, with the real command
 * line in a child process.
 */
describePostgres('ad spend in sync and backfill', () => {
  const log = new OutputLog()
  let sim: RunningSimulator
  let tw: TestWarehouse
  let dir: string

  const config = (overrides: { directToken?: string } = {}) =>
    writeConfigFile(
      dir,
      {
        baseUrl: sim.url,
        maxRetries: 1,
        // Deals only: the cases read the deals' line first and the spend's second.
        sites: [{ id: SITE, tokenEnv: 'CT_TOKEN', startDate: START, streams: ['deals'] }],
        adAccounts: [
          {
            type: 'yandex-direct',
            site: SITE,
            tokenEnv: 'DIRECT_TOKEN',
            clientLogin: DIRECT_LOGIN,
            baseUrl: sim.url,
            utm: { source: 'yandex', medium: 'cpc', campaign: 'name' },
          },
          {
            type: 'vk-ads',
            site: SITE,
            clientId: VK_CLIENT,
            clientSecretEnv: 'VK_SECRET',
            baseUrl: sim.url,
            utm: { source: 'vk', medium: 'social', campaign: 'name' },
          },
        ],
      },
      overrides.directToken === undefined ? 'calltouch.json' : 'refused.json',
    )
  const run = (args: readonly string[], overrides: { directToken?: string } = {}) =>
    runE2eCli(log, [...args, '--config', config(overrides)], {
      ...tw.env,
      DIRECT_TOKEN: overrides.directToken ?? DIRECT_TOKEN,
      VK_SECRET,
      CALLTOUCH_ETL_STATE_DIR: path.join(dir, 'state'),
    })
  const stats = (source: string) =>
    executeSql<StatRow>(
      tw.warehouse.db,
      `
      select to_char(stat_date, 'YYYY-MM-DD') as day, campaign_id::text as "campaignId", campaign_name as "campaignName",
        impressions::integer as impressions, clicks::integer as clicks, cost_micros::text as "costMicros"
      from marketing.ad_campaign_stats where source_system = $1 order by stat_date, campaign_id`,
      [source],
    )
  const expected = (rows: readonly { costMicros: bigint; campaignId: string; day: string }[]) =>
    rows
      .map((row) => ({ ...row, costMicros: row.costMicros.toString() }))
      .sort((a, b) => a.day.localeCompare(b.day) || Number(a.campaignId) - Number(b.campaignId))

  beforeAll(async () => {
    dir = scratchDir('ad-spend')
    sim = await startSimulator({
      now: E2E_NOW,
      sites: [{ siteId: SITE, token: E2E_TOKEN, dealsPerDay: 5, historyStart: '2026-10-01' }],
      yandexDirect: { accounts: [{ login: DIRECT_LOGIN, token: DIRECT_TOKEN }] },
      vkAds: { accounts: [{ clientId: VK_CLIENT, clientSecret: VK_SECRET, userId: 2000001, username: 'e2e@vk' }] },
    })
    tw = await createTestWarehouse('postgres')
  }, CLI_TEST_TIMEOUT_MS)
  afterAll(async () => {
    await sim?.close()
    await tw?.destroy()
  })

  it(
    'loads every campaign-day of both accounts exactly, to the micro, beside the deals, and a second sync writes no row',
    async () => {
      const first = await run(['sync'])
      expect(first.exitCode).toBe(0)
      const lines = first.stdout.trim().split('\n')
      expect(lines[0]).toMatch(/^sync: 1 site\(s\), \d+ day\(s\), /)
      expect(lines[1]).toMatch(
        /^sync spend: 2 ad account\(s\), \d+ day\(s\), \d+ request\(s\), \d+ retr(y|ies), campaign-days \d+ new, 0 changed, 0 deleted, 0 unchanged$/,
      )
      expect(await stats('yandex-direct')).toEqual(expected(sim.yandexDirect.expectedRows(DIRECT_LOGIN, START, TODAY)))
      expect(await stats('vk-ads')).toEqual(expected(sim.vkAds.expectedRows(VK_CLIENT, START, TODAY)))
      const [accounts] = await executeSql<{ accounts: string }>(
        tw.warehouse.db,
        `select string_agg(source_system || ' ' || account || ' ' || site_id || ' ' || utm_source || '/' || utm_medium || '/' || utm_campaign_holds || ' ' || currency, ', ' order by source_system) as accounts from marketing.ad_accounts`,
      )
      expect(accounts?.accounts).toBe(
        `vk-ads ${VK_CLIENT} ${SITE} vk/social/name RUB, yandex-direct ${DIRECT_LOGIN} ${SITE} yandex/cpc/name RUB`,
      )

      const loadedAt = await executeSql(tw.warehouse.db, `select loaded_at from marketing.ad_campaign_stats order by 1`)
      const second = await run(['sync'])
      expect(second.exitCode).toBe(0)
      expect(second.stdout).toMatch(
        /sync spend: 2 ad account\(s\), \d+ day\(s\), .* campaign-days 0 new, 0 changed, 0 deleted, \d+ unchanged\n/,
      )
      expect(await executeSql(tw.warehouse.db, `select loaded_at from marketing.ad_campaign_stats order by 1`)).toEqual(
        loadedAt,
      )
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'reads only the spend with --only spend, only the deals with --only deals, and the accounts in a backfill',
    async () => {
      const spendOnly = await run(['sync', '--only', 'spend'])
      expect(spendOnly.exitCode).toBe(0)
      expect(spendOnly.stdout).toMatch(/^sync spend: 2 ad account\(s\)/)
      expect(spendOnly.stdout).not.toMatch(/site\(s\)/)
      const dealsOnly = await run(['sync', '--only', 'deals'])
      expect(dealsOnly.exitCode).toBe(0)
      expect(dealsOnly.stdout).toMatch(/^sync: 1 site\(s\)/)
      expect(dealsOnly.stdout).not.toMatch(/spend/)
      const backfill = await run(['backfill', '--from', '2026-11-10', '--to', '2026-11-12'])
      expect(backfill.exitCode).toBe(0)
      expect(backfill.stdout).toMatch(/backfill spend: 2 ad account\(s\), 6 day\(s\), /)
      const bad = await run(['sync', '--only', 'leads'])
      expect([bad.exitCode, bad.stderr.trim()]).toEqual([
        2,
        'error: --only must list one or more of deals, calls, requests, spend (comma-separated), got "leads"',
      ])
      // The site loads deals only: asking for its calls alone reads nothing, so it is refused.
      const nothing = await run(['sync', '--only', 'calls,requests'])
      expect([nothing.exitCode, nothing.stderr.trim()]).toEqual([
        2,
        "error: --only calls,requests, but no configured site loads calls or requests: see each site's streams (README, Leads)",
      ])
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'records an account whose token is refused failed with the reason, loads the other, and exits 1',
    async () => {
      const refused = await run(['sync', '--only', 'spend'], { directToken: 'not-the-token' })
      expect(refused.exitCode).toBe(1)
      expect(refused.stdout).toMatch(/^sync spend: 2 ad account\(s\) \(1 failed\), /)
      expect(refused.stdout).toMatch(/\nfailed: yandex-direct account .* \(adAccounts\[0\]\): .*53.*\n/)
      const [run_] = await executeSql<{ status: string; error: string }>(
        tw.warehouse.db,
        `select status, error from etl.runs order by run_id desc limit 1`,
      )
      expect(run_?.status).toBe('partial')
      expect(run_?.error).toMatch(/^1 ad account\(s\) failed; first: yandex-direct /)
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it('shows no secret in any output, table or state file name, and keeps the VK token file 0600', async () => {
    const stateFiles = readdirSync(path.join(dir, 'state'), { recursive: true, encoding: 'utf8' })
    const vkTokens = stateFiles
      .filter((file) => file.endsWith('.json'))
      .flatMap((file) => {
        const state = JSON.parse(readFileSync(path.join(dir, 'state', file), 'utf8')) as Record<string, unknown>
        return [state.accessToken, state.refreshToken, state.access_token, state.refresh_token].filter(
          (value): value is string => typeof value === 'string',
        )
      })
    expect(vkTokens.length).toBeGreaterThan(0)
    const modes = stateFiles
      .filter((file) => file.endsWith('.json'))
      .map((file) => (statSync(path.join(dir, 'state', file)).mode & 0o777).toString(8))
    expect(modes).toEqual(['600'])
    const secrets = [E2E_TOKEN, DIRECT_TOKEN, VK_SECRET, ...vkTokens]
    expect(
      stateFiles.filter((file) => secrets.some((secret) => file.includes(secret)) || file.includes(VK_CLIENT)),
    ).toEqual([])
    expect(log.texts.filter((text) => secrets.some((secret) => text.includes(secret)))).toEqual([])
    const [leaks] = await executeSql<{ rows: number }>(
      tw.warehouse.db,
      `
      select count(*)::integer as rows from (
        select t::text as text from marketing.ad_campaign_stats t union all select t::text from marketing.ad_accounts t
        union all select t::text from etl.ledger t union all select t::text from etl.runs t
      ) r where exists (select 1 from unnest($1::text[]) s where strpos(r.text, s) > 0)`,
      [secrets],
    )
    expect(leaks?.rows).toBe(0)
  })
})
