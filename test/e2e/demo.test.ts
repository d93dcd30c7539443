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

  it("syncs the simulated demo site into a fresh embedded warehouse and prints October's ROI by channel, with no server and no account", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'calltouch-etl-demo-'))
    dirs.push(dir)
    const dataDir = path.join(dir, 'warehouse')
    const startedAt = Date.now()
    const result = await runCli(['demo'], { CALLTOUCH_ETL_DATA_DIR: dataDir }, { timeoutMs: 120_000 })
    const seconds = (Date.now() - startedAt) / 1000
    expect(result.exitCode).toBe(0)
    const lines = result.stdout.split('\n')
    expect(lines[0]).toMatch(
      /^Calltouch simulator at http:\/\/127\.0\.0\.1:\d+: demo site 20261, its clock at 2026-11-29T09:00:00\+03:00, the real API's limit of 5 requests a second\.$/,
    )
    expect(lines[1]).toBe(`Reading 2026-08-31 to 2026-11-28 into the embedded warehouse at ${dataDir} ...`)
    expect(lines[2]).toMatch(
      /^backfill: 1 site\(s\), 90 day\(s\), \d+ request\(s\), \d+ retr(y|ies), 3101 record\(s\) seen, \d+ changed, 0 rejected, [\d.]+ s$/,
    )
    expect(lines[3]).toBe(
      'Imported demo-spend.csv into marketing.ad_spend: 900 lines read, 900 keys upserted (900 new, 0 replaced), 90 days from 2026-08-31 to 2026-11-28, site 20261, total 22240409.97 RUB.',
    )
    expect(lines[4]).toMatch(/^Built \d+ models in analytics; their tests: \d+ passed, 0 failed\.$/)
    expect(lines.slice(5, 27).join('\n')).toBe(`
ROI by channel, 2026-10-01 to 2026-10-31, site 20261 (analytics.fct_marketing_daily)
┌──────────┬─────────┬───────┬───────────────┬──────────────┬──────────────┬────────┐
│ source   │ medium  │ deals │       revenue │        spend │       profit │    ROI │
├──────────┼─────────┼───────┼───────────────┼──────────────┼──────────────┼────────┤
│ yandex   │ cpc     │   380 │  4 917 600.00 │ 3 406 354.41 │ 1 511 245.59 │  44.4% │
├──────────┼─────────┼───────┼───────────────┼──────────────┼──────────────┼────────┤
│ vk       │ social  │   108 │  1 615 200.00 │ 2 420 911.77 │  -805 711.77 │ -33.3% │
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
│ total    │         │  1098 │ 15 928 700.00 │ 7 642 419.99 │ 8 286 280.01 │ 108.4% │
└──────────┴─────────┴───────┴───────────────┴──────────────┴──────────────┴────────┘
ROI = (revenue − spend) / spend; — where there was no spend. Revenue: completed amounts of deals neither deleted nor removed.`)
    expect(lines[28]).toMatch(
      new RegExp(
        `^Done in [\\d.]+ s\\. The data is in the embedded PostgreSQL \\(PGlite\\) at ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:$`,
      ),
    )
    expect(result.stdout).toContain(`  CALLTOUCH_ETL_DATA_DIR=${dataDir} npx calltouch-etl report roi --by campaign\n`)
    // The issue's bar is a minute on these machines; a test run shares them with others, hence the slack.
    expect(seconds).toBeLessThan(90)
  }, 150_000)
})
