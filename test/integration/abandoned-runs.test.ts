import os from 'node:os'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { withRunLock } from '../../pipelines/warehouse/run-lock.ts'
import { ABANDONED_RUN_ERROR, startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

describeEachEngine('runs whose process died', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it("are closed as failed by the next run that takes the lock, leaving this process's own running rows alone", async () => {
    const db = tw.warehouse.db
    // A sync killed with SIGKILL on another host, and one of a dead process on this host.
    await db
      .insertInto('etl.runs')
      .values({ command: 'sync', arguments: '{}', pid: 4_000_001, hostname: 'old-container' })
      .execute()
    await db
      .insertInto('etl.runs')
      .values({ command: 'backfill', arguments: '{}', pid: 4_000_002, hostname: os.hostname() })
      .execute()
    // This process's scheduler row around the sync it is about to run.
    const ownRunId = await startRun(db, 'schedule', {})

    const ranUnderLock = await withRunLock(tw.warehouse, async () => 'worked')

    expect(ranUnderLock).toBe('worked')
    const rows = await db
      .selectFrom('etl.runs')
      .select(['command', 'status', 'error', 'run_id'])
      .orderBy('run_id')
      .execute()
    expect(rows.map(({ command, status, error }) => ({ command, status, error }))).toEqual([
      { command: 'sync', status: 'failed', error: ABANDONED_RUN_ERROR },
      { command: 'backfill', status: 'failed', error: ABANDONED_RUN_ERROR },
      { command: 'schedule', status: 'running', error: null },
    ])
    expect(rows[2]?.run_id).toBe(ownRunId)
    const finished = await db.selectFrom('etl.runs').select('finished_at').where('status', '=', 'failed').execute()
    expect(finished.every((row) => row.finished_at instanceof Date)).toBe(true)
  })
})
