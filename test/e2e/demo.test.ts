import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.ts'

describe('calltouch-etl demo', () => {
  const dirs: string[] = []
  afterAll(async () => {
    for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true })
  })

  it("syncs the simulated demo site (deals, calls, requests) and its Direct and VK Ads accounts into a fresh embedded warehouse and prints October's ROI by channel and by ad campaign and its lead funnel by channel, with no server and no account", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'calltouch-etl-demo-'))
    dirs.push(dir)
    const dataDir = path.join(dir, 'warehouse')
    const startedAt = Date.now()
    const result = await runCli(['demo'], { CALLTOUCH_ETL_DATA_DIR: dataDir }, { timeoutMs: 120_000 })
    const seconds = (Date.now() - startedAt) / 1000
    expect(result.exitCode).toBe(0)
    const lines = result.stdout.split('\n')
    expect(lines[0]).toMatch(
      /^Calltouch simulator at http:\/\/127\.0\.0\.1:\d+: demo site 20261, its clock at 2026-11-29T09:00:00\+03:00, the real API's limit of 5 requests a second; a Yandex Direct and a VK Ads account on the same port\.$/,
    )
    expect(lines[1]).toBe(`Reading 2026-10-01 to 2026-11-28 into the embedded warehouse at ${dataDir} ...`)
    expect(lines[2]).toMatch(
      /^backfill: 1 site\(s\), 59 day\(s\), \d+ request\(s\), \d+ retr(y|ies), 2055 record\(s\) seen, \d+ changed, 0 rejected, [\d.]+ s$/,
    )
    // The site's calls and requests, read beside its deals.
    expect(lines[3]).toMatch(
      /^backfill leads: 2 stream\(s\), 118 day\(s\), \d+ request\(s\), \d+ retr(y|ies), 9113 lead\(s\) seen, 9113 changed, 0 rejected, 0 removed$/,
    )
    expect(lines[4]).toMatch(
      /^backfill spend: 2 ad account\(s\), 118 day\(s\), \d+ request\(s\), \d+ retr(y|ies), campaign-days 517 new, 0 changed, 0 deleted, 0 unchanged$/,
    )
    expect(lines[5]).toBe(
      'Imported demo-spend.csv into marketing.ad_spend: 270 lines read, 270 keys upserted (270 new, 0 replaced), 90 days from 2026-08-31 to 2026-11-28, site 20261, total 5339967.46 RUB.',
    )
    expect(lines[6]).toMatch(/^Built \d+ models in analytics; their tests: \d+ passed, 0 failed\.$/)
    expect(lines.slice(7, 58).join('\n')).toBe(`
ROI by channel, 2026-10-01 to 2026-10-31, site 20261 (analytics.fct_marketing_daily)
┌──────────┬─────────┬───────┬───────────────┬──────────────┬──────────────┬────────┐
│ source   │ medium  │ deals │       revenue │        spend │       profit │    ROI │
├──────────┼─────────┼───────┼───────────────┼──────────────┼──────────────┼────────┤
│ yandex   │ cpc     │   380 │  4 917 600.00 │ 2 528 963.67 │ 2 388 636.33 │  94.5% │
├──────────┼─────────┼───────┼───────────────┼──────────────┼──────────────┼────────┤
│ vk       │ social  │   108 │  1 615 200.00 │ 1 829 496.11 │  -214 296.11 │ -11.7% │
├──────────┼─────────┼───────┼───────────────┼──────────────┼──────────────┼────────┤
│ google   │ cpc     │   121 │  1 955 900.00 │ 1 815 153.81 │   140 746.19 │   7.8% │
├──────────┼─────────┼───────┼───────────────┼──────────────┼──────────────┼────────┤
│ (direct) │ (none)  │   186 │  2 801 700.00 │         0.00 │ 2 801 700.00 │      — │
├──────────┼─────────┼───────┼───────────────┼──────────────┼──────────────┼────────┤
│ yandex   │ organic │   158 │  2 323 100.00 │         0.00 │ 2 323 100.00 │      — │
├──────────┼─────────┼───────┼───────────────┼──────────────┼──────────────┼────────┤
│ google   │ organic │    60 │  1 212 100.00 │         0.00 │ 1 212 100.00 │      — │
├──────────┼─────────┼───────┼───────────────┼──────────────┼──────────────┼────────┤
│ (none)   │ (none)  │    85 │  1 103 100.00 │         0.00 │ 1 103 100.00 │      — │
├──────────┼─────────┼───────┼───────────────┼──────────────┼──────────────┼────────┤
│ total    │         │  1098 │ 15 928 700.00 │ 6 173 613.59 │ 9 755 086.41 │ 158.0% │
└──────────┴─────────┴───────┴───────────────┴──────────────┴──────────────┴────────┘
ROI = (revenue − spend) / spend; — where there was no spend. Revenue: completed amounts of deals neither deleted nor removed.

ROI by ad-campaign, 2026-10-01 to 2026-10-31, site 20261 (analytics.fct_campaign_daily)
┌───────────────┬─────────────┬─────────────────────────┬───────┬──────────────┬──────────────┬──────────────┬─────────┐
│ platform      │ campaign_id │ campaign                │ deals │      revenue │        spend │       profit │     ROI │
├───────────────┼─────────────┼─────────────────────────┼───────┼──────────────┼──────────────┼──────────────┼─────────┤
│ vk-ads        │ 6758203     │ vk_promo                │    34 │   490 100.00 │ 1 255 140.01 │  -765 040.01 │  -61.0% │
├───────────────┼─────────────┼─────────────────────────┼───────┼──────────────┼──────────────┼──────────────┼─────────┤
│ yandex-direct │ 70012346    │ poisk_remont_kvartir    │   104 │ 1 299 800.00 │   598 370.08 │   701 429.92 │  117.2% │
├───────────────┼─────────────┼─────────────────────────┼───────┼──────────────┼──────────────┼──────────────┼─────────┤
│ yandex-direct │ 70012350    │ smart_banners_test      │     0 │         0.00 │   581 741.36 │  -581 741.36 │ -100.0% │
├───────────────┼─────────────┼─────────────────────────┼───────┼──────────────┼──────────────┼──────────────┼─────────┤
│ yandex-direct │ 70012349    │ video_awareness         │     0 │         0.00 │   465 227.84 │  -465 227.84 │ -100.0% │
├───────────────┼─────────────┼─────────────────────────┼───────┼──────────────┼──────────────┼──────────────┼─────────┤
│ yandex-direct │ 70012348    │ Поиск | Москва | Ремонт │    85 │   991 900.00 │   447 694.61 │   544 205.39 │  121.6% │
├───────────────┼─────────────┼─────────────────────────┼───────┼──────────────┼──────────────┼──────────────┼─────────┤
│ vk-ads        │ 6802519     │ Охват | Москва          │     0 │         0.00 │   339 970.13 │  -339 970.13 │ -100.0% │
├───────────────┼─────────────┼─────────────────────────┼───────┼──────────────┼──────────────┼──────────────┼─────────┤
│ yandex-direct │ 70012345    │ brand_moscow            │    90 │ 1 135 600.00 │   246 311.36 │   889 288.64 │  361.0% │
├───────────────┼─────────────┼─────────────────────────┼───────┼──────────────┼──────────────┼──────────────┼─────────┤
│ yandex-direct │ 70012347    │ rsya_retarget           │   101 │ 1 490 300.00 │   189 618.42 │ 1 300 681.58 │  685.9% │
├───────────────┼─────────────┼─────────────────────────┼───────┼──────────────┼──────────────┼──────────────┼─────────┤
│ vk-ads        │ 6711647     │ vk_retarget_осень       │    35 │   525 700.00 │   158 637.58 │   367 062.42 │  231.4% │
├───────────────┼─────────────┼─────────────────────────┼───────┼──────────────┼──────────────┼──────────────┼─────────┤
│ vk-ads        │ 6617841     │ vk_lookalike            │    39 │   599 400.00 │    75 748.39 │   523 651.61 │  691.3% │
├───────────────┼─────────────┼─────────────────────────┼───────┼──────────────┼──────────────┼──────────────┼─────────┤
│ total         │             │                         │   488 │ 6 532 800.00 │ 4 358 459.78 │ 2 174 340.22 │   49.9% │
└───────────────┴─────────────┴─────────────────────────┴───────┴──────────────┴──────────────┴──────────────┴─────────┘
ROI = (revenue − spend) / spend; — where there was no spend. Revenue: completed amounts of deals neither deleted nor removed.
`)
    expect(lines.slice(58, 81).join('\n'))
      .toBe(`Lead funnel by channel, 2026-10-01 to 2026-10-31, site 20261 (analytics.fct_funnel_daily)
┌──────────┬─────────┬───────┬────────┬────────┬───────────┬───────┬───────────────┬──────────────┬──────────┬────────────┬────────────┬────────┐
│ source   │ medium  │ leads │ unique │ target │ with deal │ deals │       revenue │        spend │ per lead │ per target │ conversion │    ROI │
├──────────┼─────────┼───────┼────────┼────────┼───────────┼───────┼───────────────┼──────────────┼──────────┼────────────┼────────────┼────────┤
│ yandex   │ cpc     │  1569 │   1093 │    749 │       365 │   380 │  4 917 600.00 │ 2 528 963.67 │ 1 611.83 │   3 376.45 │      23.3% │  94.5% │
├──────────┼─────────┼───────┼────────┼────────┼───────────┼───────┼───────────────┼──────────────┼──────────┼────────────┼────────────┼────────┤
│ (direct) │ (none)  │   860 │    592 │    402 │       176 │   186 │  2 801 700.00 │         0.00 │     0.00 │       0.00 │      20.5% │      — │
├──────────┼─────────┼───────┼────────┼────────┼───────────┼───────┼───────────────┼──────────────┼──────────┼────────────┼────────────┼────────┤
│ yandex   │ organic │   693 │    466 │    324 │       150 │   158 │  2 323 100.00 │         0.00 │     0.00 │       0.00 │      21.6% │      — │
├──────────┼─────────┼───────┼────────┼────────┼───────────┼───────┼───────────────┼──────────────┼──────────┼────────────┼────────────┼────────┤
│ google   │ cpc     │   535 │    382 │    238 │       115 │   121 │  1 955 900.00 │ 1 815 153.81 │ 3 392.81 │   7 626.70 │      21.5% │   7.8% │
├──────────┼─────────┼───────┼────────┼────────┼───────────┼───────┼───────────────┼──────────────┼──────────┼────────────┼────────────┼────────┤
│ vk       │ social  │   508 │    326 │    234 │       106 │   108 │  1 615 200.00 │ 1 829 496.11 │ 3 601.37 │   7 818.36 │      20.9% │ -11.7% │
├──────────┼─────────┼───────┼────────┼────────┼───────────┼───────┼───────────────┼──────────────┼──────────┼────────────┼────────────┼────────┤
│ (none)   │ (none)  │   309 │    210 │    149 │        85 │    85 │  1 103 100.00 │         0.00 │     0.00 │       0.00 │      27.5% │      — │
├──────────┼─────────┼───────┼────────┼────────┼───────────┼───────┼───────────────┼──────────────┼──────────┼────────────┼────────────┼────────┤
│ google   │ organic │   244 │    166 │    124 │        59 │    60 │  1 212 100.00 │         0.00 │     0.00 │       0.00 │      24.2% │      — │
├──────────┼─────────┼───────┼────────┼────────┼───────────┼───────┼───────────────┼──────────────┼──────────┼────────────┼────────────┼────────┤
│ total    │         │  4718 │   3235 │   2220 │      1056 │  1098 │ 15 928 700.00 │ 6 173 613.59 │ 1 308.52 │   2 780.91 │      22.4% │ 158.0% │
└──────────┴─────────┴───────┴────────┴────────┴───────────┴───────┴───────────────┴──────────────┴──────────┴────────────┴────────────┴────────┘
Leads: calls and requests on their day and channel; with deal: of those, the ones with a counted deal; conversion = with deal / leads.
Deals and revenue on their own day and channel, as in report roi; per lead = spend / leads, per target = spend / target leads; ROI = (revenue − spend) / spend; — where the divisor is 0.
`)
    expect(lines[81]).toMatch(
      new RegExp(
        `^Done in [\\d.]+ s\\. The data is in the embedded PostgreSQL \\(PGlite\\) at ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:$`,
      ),
    )
    expect(result.stdout).toContain(`  CALLTOUCH_ETL_DATA_DIR=${dataDir} npx calltouch-etl report roi --by campaign\n`)
    expect(result.stdout).toContain(
      `  CALLTOUCH_ETL_DATA_DIR=${dataDir} npx calltouch-etl report funnel --by campaign\n`,
    )
    expect(result.stdout).toContain(
      `For psql, DBeaver or Metabase: CALLTOUCH_ETL_DATA_DIR=${dataDir} npx calltouch-etl serve-sql, then psql -h 127.0.0.1 -p 5433 -U postgres\n`,
    )
    expect(result.stdout).not.toContain('load a real site into PostgreSQL')
    // The issue's bar is a minute on these machines; a test run shares them with others, hence the slack.
    expect(seconds).toBeLessThan(90)
  }, 150_000)
})
