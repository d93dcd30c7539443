import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadCallsWindow } from '../../pipelines/sources/calltouch-leads/load-leads.ts'
import { analyzeLoadedTables } from '../../pipelines/warehouse/analyze-tables.ts'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

describeEachEngine('statistics after a load', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('gives the planner the row counts of every loaded table, which a first backfill leaves unknown', async () => {
    const db = tw.warehouse.db
    const runId = await startRun(db, 'backfill')
    const calls = Array.from({ length: 40 }, (_, i) => `{"callId":${i + 1},"date":"10/02/2026 10:00:00"}`)
    await loadCallsWindow(db, {
      runId,
      siteId: 7,
      firstDay: '2026-02-10',
      lastDay: '2026-02-10',
      bodies: [`[${calls.join(',')}]`],
    })
    const estimate = async (): Promise<number> => {
      const [row] = await executeSql<{ estimate: number }>(
        db,
        `select reltuples::integer as estimate from pg_class where oid = 'calltouch.calls'::regclass`,
      )
      return row?.estimate ?? Number.NaN
    }
    // Never analyzed: PostgreSQL 15 says -1 ("unknown") and plans as if the table were tiny.
    expect(await estimate()).toBe(-1)
    const [count] = await executeSql<{ tables: number }>(
      db,
      `select count(*)::integer as tables from pg_tables where schemaname in ('calltouch', 'marketing')`,
    )
    expect(await analyzeLoadedTables(db)).toBe(count?.tables)
    expect(await estimate()).toBe(40)
  })
})
