import { afterAll, beforeAll, expect, it } from 'vitest'
import { addDays, eachDay, todayIn } from '../../pipelines/core/day.ts'
import { loadWindow, recordWindowFailure } from '../../pipelines/sources/calltouch-deals/load-window.ts'
import { createRequestLimiter } from '../../pipelines/http/request-limiter.ts'
import { syncSites, type SyncMode, type SyncSummary } from '../../pipelines/sources/calltouch-deals/sync-sites.ts'
import { silentLogger } from '../../pipelines/core/logger.ts'
import { DEFAULT_RUN_SETTINGS } from '../../pipelines/sources/calltouch-deals/config.ts'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { migrateTo, migrateToLatest } from '../../pipelines/warehouse/migrator.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE_ID = 6161
const TOKEN = 'upgrade/site+token'
const NOW = new Date('2026-11-29T09:00:00Z')
const TODAY = todayIn('Europe/Moscow', NOW)
const START = addDays(TODAY, -59)
const LOOKBACK_FIRST = addDays(TODAY, 1 - DEFAULT_RUN_SETTINGS.lookbackDays)
/** The last migration of the release before the ledger had sources. */
const PREVIOUS_RELEASE = '20261207090000_key_long_tags_and_fields_by_md5'
const TEST_TIMEOUT_MS = 120_000

describeEachEngine('a warehouse of the previous release, migrated to the ledger of sources', (engine) => {
  let tw: TestWarehouse
  let sim: RunningSimulator
  /** The deals ledger as the previous release's etl.site_days table held it. */
  let oldLedger: { site_id: number }[]

  const ledgerColumns =
    'day::text as day, last_extracted_at, run_id, records, status, error, last_succeeded_at, attempts'

  async function run(
    kind: 'backfill' | 'sync',
    mode: SyncMode,
  ): Promise<{ runId: string; summary: SyncSummary; exportRequests: number }> {
    const runId = await startRun(tw.warehouse.db, kind)
    const before = sim.stats().requests.byEndpoint.export ?? 0
    const limiter = createRequestLimiter({ requestsPerSecond: 50 })
    try {
      const summary = await syncSites({
        db: tw.warehouse.db,
        runId,
        sites: [{ siteId: SITE_ID, token: TOKEN, timeZone: 'Europe/Moscow', startDate: START }],
        mode,
        baseUrl: sim.url,
        settings: DEFAULT_RUN_SETTINGS,
        limiter,
        loader: { loadWindow, recordWindowFailure },
        now: NOW,
        logger: silentLogger(),
      })
      return { runId, summary, exportRequests: (sim.stats().requests.byEndpoint.export ?? 0) - before }
    } finally {
      await limiter.stop()
    }
  }

  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    sim = await startSimulator({
      now: NOW.toISOString(),
      seed: 3,
      rateLimit: false,
      sites: [{ siteId: SITE_ID, token: TOKEN, dealsPerDay: 8 }],
    })
    // 60 days read, then the warehouse taken back to the previous release's schema, whose ledger
    // is the table etl.site_days.
    const backfill = await run('backfill', { kind: 'backfill', from: START, to: TODAY })
    expect(backfill.summary.failures).toEqual([])
    await migrateTo(tw.warehouse.db, PREVIOUS_RELEASE)
    oldLedger = await executeSql<{ site_id: number }>(
      tw.warehouse.db,
      `select site_id, ${ledgerColumns} from etl.site_days order by day`,
    )
  }, TEST_TIMEOUT_MS)
  afterAll(async () => {
    await sim?.close()
    await tw?.destroy()
  })

  it('keeps every day of the old ledger as the deals of its site', async () => {
    expect(oldLedger).toHaveLength(60)
    expect(await migrateToLatest(tw.warehouse.db)).toEqual({
      applied: [
        '20261207130000_key_ledger_by_source_and_account',
        '20261207150000_create_ad_campaign_stats',
        '20261207180000_protect_client_contacts',
        '20261207190000_create_lead_tables',
      ],
    })
    const ledger = await executeSql(
      tw.warehouse.db,
      `select source, account, ${ledgerColumns} from etl.ledger order by day`,
    )
    expect(ledger).toEqual(
      oldLedger.map(({ site_id, ...row }) => ({ source: 'calltouch-deals', account: String(site_id), ...row })),
    )
  })

  it(
    'reads on its next sync only the look-back window, which every sync reads again, in as few requests as its deals allow',
    async () => {
      await migrateToLatest(tw.warehouse.db)
      const { runId, summary, exportRequests } = await run('sync', { kind: 'sync' })
      expect(summary.failures).toEqual([])
      const reread = await executeSql<{ day: string }>(
        tw.warehouse.db,
        `select day::text as day from etl.ledger where run_id = $1 order by day`,
        [runId],
      )
      expect(reread.map((row) => row.day)).toEqual(eachDay(LOOKBACK_FIRST, TODAY))
      // Until a read proves what dateTo means, a window asks for the day after it too.
      const pages = Math.ceil(sim.expectedDeals(SITE_ID, LOOKBACK_FIRST, addDays(TODAY, 1)).length / 1000)
      expect({ days: summary.days, requests: summary.requests, exportRequests, changed: summary.changed }).toEqual({
        days: 30,
        requests: pages,
        exportRequests: pages,
        changed: 0,
      })
    },
    TEST_TIMEOUT_MS,
  )
})
