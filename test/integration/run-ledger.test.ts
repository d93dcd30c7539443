import { afterAll, beforeAll, expect, it } from 'vitest'
import { clearSecretsForTests, registerSecret } from '../../pipelines/core/secrets.ts'
import { finishRun, startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

describeEachEngine('the run ledger', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
  })
  afterAll(async () => {
    clearSecretsForTests()
    await tw?.destroy()
  })

  it('records a run from start to finish with its counters, and redacts secrets from its error', async () => {
    registerSecret('tok/en+with.dots')
    const runId = await startRun(tw.warehouse.db, 'sync', { site: 12345, lookbackDays: 30 })
    const running = await tw.warehouse.db
      .selectFrom('etl.runs')
      .selectAll()
      .where('run_id', '=', runId)
      .executeTakeFirstOrThrow()
    expect(running).toMatchObject({
      command: 'sync',
      arguments: { site: 12345, lookbackDays: 30 },
      status: 'running',
      finished_at: null,
      counters: {},
      error: null,
      pid: process.pid,
    })

    await finishRun(tw.warehouse.db, runId, {
      status: 'partial',
      counters: { requests: 7, retries: 1 },
      error: 'window 2026-01-01..2026-01-03 failed: 403 for clientApiId=tok/en+with.dots',
    })
    const finished = await tw.warehouse.db
      .selectFrom('etl.runs')
      .selectAll()
      .where('run_id', '=', runId)
      .executeTakeFirstOrThrow()
    expect(finished).toMatchObject({
      status: 'partial',
      counters: { requests: 7, retries: 1 },
      error: 'window 2026-01-01..2026-01-03 failed: 403 for clientApiId=[REDACTED]',
    })
    expect(finished.finished_at).toBeInstanceOf(Date)
  })
})
