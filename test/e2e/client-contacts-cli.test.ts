import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { E2E_NOW, E2E_TOKEN, OutputLog, runE2eCli, scratchDir, writeConfigFile } from '../helpers/e2e-harness.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE = 4242
const CLI_TEST_TIMEOUT_MS = 240_000

/** The command line applies CALLTOUCH_ETL_PII and CALLTOUCH_ETL_PII_KEY to what `sync` stores. */
describePostgres('client contacts through the command line', () => {
  const log = new OutputLog()
  let sim: RunningSimulator
  let tw: TestWarehouse
  let dir: string

  beforeAll(async () => {
    dir = scratchDir('contacts')
    sim = await startSimulator({
      now: E2E_NOW,
      sites: [{ siteId: SITE, token: E2E_TOKEN, dealsPerDay: 20, historyStart: '2026-11-01' }],
    })
    tw = await createTestWarehouse('postgres')
  }, CLI_TEST_TIMEOUT_MS)
  afterAll(async () => {
    await sim?.close()
    await tw?.destroy()
  })

  const backfill = (env: Record<string, string>) =>
    runE2eCli(
      log,
      [
        'backfill',
        '--only',
        'deals',
        '--config',
        writeConfigFile(dir, { baseUrl: sim.url, sites: [{ id: SITE, tokenEnv: 'CT_TOKEN' }] }),
        '--from',
        '2026-11-10',
        '--to',
        '2026-11-12',
      ],
      { ...tw.env, CALLTOUCH_ETL_STATE_DIR: path.join(dir, 'state'), ...env },
    )

  it(
    'refuses an unknown mode with one line and exit 2 before touching the warehouse',
    async () => {
      const refused = await backfill({ CALLTOUCH_ETL_PII: 'mask' })
      expect(refused.exitCode).toBe(2)
      expect(refused.stderr.trim().split('\n')).toHaveLength(1)
      expect(refused.stderr).toMatch(/CALLTOUCH_ETL_PII/)
      const [runs] = await executeSql<{ runs: number }>(
        tw.warehouse.db,
        `select count(*)::integer as runs from etl.runs`,
      )
      expect(runs?.runs ?? 0).toBe(0)
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'drops every client phone and name in drop mode, raw payloads included, and still counts clients by client_key',
    async () => {
      const loaded = await backfill({ CALLTOUCH_ETL_PII: 'drop', CALLTOUCH_ETL_PII_KEY: 'ab'.repeat(32) })
      expect(loaded.exitCode).toBe(0)
      const deals = sim.expectedDeals(SITE, '2026-11-10', '2026-11-12')
      const contacts = deals.flatMap((deal) =>
        [deal.client.fio, deal.client.phones].filter(
          (value): value is string => typeof value === 'string' && value.length > 3,
        ),
      )
      expect(contacts.length).toBeGreaterThan(0)
      const [found] = await executeSql<{ rows: number }>(
        tw.warehouse.db,
        `select count(*)::integer as rows from (
           select t::text as text from calltouch.orders t union all select t::text from raw.calltouch_orders t
           union all select t::text from calltouch.sources t) r
         where exists (select 1 from unnest($1::text[]) c where strpos(r.text, c) > 0)`,
        [contacts],
      )
      expect(found?.rows).toBe(0)
      const [keys] = await executeSql<{ keyed: number; deals: number }>(
        tw.warehouse.db,
        `select count(client_key)::integer as keyed, count(*)::integer as deals from calltouch.orders`,
      )
      expect(keys?.deals).toBe(deals.length)
      expect(keys?.keyed).toBe(deals.filter((deal) => /\d/.test(deal.client.phones ?? '')).length)
    },
    CLI_TEST_TIMEOUT_MS,
  )
})
