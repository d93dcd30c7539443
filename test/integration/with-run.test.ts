import os from 'node:os'
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest'
import { EtlError } from '../../pipelines/core/errors.ts'
import { registerSecret } from '../../pipelines/core/secrets.ts'
import { withRun } from '../../pipelines/jobs/with-run.ts'
import { executeSql, openWarehouse } from '../../pipelines/warehouse/connection.ts'
import { withRunLock } from '../../pipelines/warehouse/run-lock.ts'
import { withAdminClient } from '../helpers/postgres-server.ts'
import { createTestWarehouse, describeEachEngine, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SECRET = 'with-run-secret/token+1'

interface RunRow {
  command: string
  arguments: Record<string, unknown>
  status: string
  counters: Record<string, number>
  error: string | null
  finished: boolean
  pid: number
  hostname: string
}

async function runRows(tw: TestWarehouse): Promise<RunRow[]> {
  return executeSql<RunRow>(
    tw.warehouse.db,
    'select command, arguments, status, counters, error, finished_at is not null as finished, pid, hostname from etl.runs order by run_id',
  )
}

describeEachEngine('withRun, the one owner of etl.runs rows', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    registerSecret(SECRET)
  })
  afterAll(async () => {
    await tw?.destroy()
  })
  beforeEach(async () => {
    await executeSql(tw.warehouse.db, 'delete from etl.runs')
  })

  it('records a succeeded run with its arguments and counters, and returns what the work returned', async () => {
    let seenRunId = ''
    const result = await withRun(
      tw.warehouse,
      'transform',
      { arguments: { projectDir: 'dbt', vars: {} } },
      async (run) => {
        seenRunId = run.runId
        const [row] = await runRows(tw)
        expect([row?.status, row?.finished]).toEqual(['running', false])
        return { result: { built: 12 }, status: 'succeeded', counters: { models_built: 12 } }
      },
    )
    expect(result).toEqual({ built: 12 })
    expect(await runRows(tw)).toEqual([
      {
        command: 'transform',
        arguments: { projectDir: 'dbt', vars: {} },
        status: 'succeeded',
        counters: { models_built: 12 },
        error: null,
        finished: true,
        pid: process.pid,
        hostname: os.hostname(),
      },
    ])
    const [id] = await executeSql<{ run_id: string }>(tw.warehouse.db, 'select run_id::text from etl.runs')
    expect(id?.run_id).toBe(seenRunId)
  })

  it('records a partial run with the counters and error the work returned', async () => {
    const result = await withRun(tw.warehouse, 'sync', { arguments: { sites: [1, 2] } }, async () => ({
      result: 'half',
      status: 'partial',
      counters: { windows: 4, windowsFailed: 1 },
      error: '1 window(s) failed; first: site 2 2026-01-01..2026-01-03: HTTP 503',
    }))
    expect(result).toBe('half')
    expect(
      (await runRows(tw)).map(({ command, status, counters, error }) => ({ command, status, counters, error })),
    ).toEqual([
      {
        command: 'sync',
        status: 'partial',
        counters: { windows: 4, windowsFailed: 1 },
        error: '1 window(s) failed; first: site 2 2026-01-01..2026-01-03: HTTP 503',
      },
    ])
  })

  it('closes the row as failed with the error on one line, redacted, with the failure counters, and throws the error on', async () => {
    const thrown = new Error(`Calltouch refused clientApiId=${SECRET}\n  DETAIL: token expired\n`)
    const failure = await withRun(
      tw.warehouse,
      'backfill',
      { failureCounters: () => ({ requests: 3, retries: 1 }) },
      async () => {
        throw thrown
      },
    ).catch((error: unknown) => error)
    expect(failure).toBe(thrown)
    expect(
      (await runRows(tw)).map(({ command, status, counters, error, finished }) => ({
        command,
        status,
        counters,
        error,
        finished,
      })),
    ).toEqual([
      {
        command: 'backfill',
        status: 'failed',
        counters: { requests: 3, retries: 1 },
        error: 'Calltouch refused clientApiId=[REDACTED] DETAIL: token expired',
        finished: true,
      },
    ])
  })

  it("closes the row in the caller's transaction when the work does, and as failed when that transaction rolls back", async () => {
    const committed = await withRun(tw.warehouse, 'spend import', {}, async (run) => {
      await tw.warehouse.db
        .transaction()
        .execute((trx) => run.finishIn(trx, { status: 'succeeded', counters: { keys_upserted: 2 } }))
      // Ignored: the row was closed with the data.
      return { result: 'imported', status: 'failed', error: 'never stored' }
    })
    const rolledBack = await withRun(tw.warehouse, 'spend import', {}, async (run) => {
      await tw.warehouse.db.transaction().execute(async (trx) => {
        await run.finishIn(trx, { status: 'succeeded', counters: { keys_upserted: 2 } })
        throw new Error('the upsert failed after all')
      })
      return { result: 'imported', status: 'succeeded' }
    }).catch((error: unknown) => (error as Error).message)
    expect([committed, rolledBack]).toEqual(['imported', 'the upsert failed after all'])
    expect((await runRows(tw)).map(({ status, counters, error }) => ({ status, counters, error }))).toEqual([
      { status: 'succeeded', counters: { keys_upserted: 2 }, error: null },
      { status: 'failed', counters: {}, error: 'the upsert failed after all' },
    ])
  })

  it('refuses a run with exit code 3 while another holds the warehouse, writing no row and doing no work', async () => {
    let worked = false
    const work = async () => {
      worked = true
      return { result: 'ran', status: 'succeeded' } as const
    }
    // PostgreSQL: the advisory lock of another connection. Embedded: the data directory, which only one opener may hold.
    const refusal =
      engine === 'postgres'
        ? await (async () => {
            const other = await openWarehouse(tw.config)
            try {
              return await withRunLock(other, () =>
                withRun(tw.warehouse, 'sync', {}, work).catch((error: unknown) => error),
              )
            } finally {
              await other.close()
            }
          })()
        : await openWarehouse(tw.config).then(
            async (second) => {
              await second.close()
              return 'opened'
            },
            (error: unknown) => error,
          )
    expect(refusal).toBeInstanceOf(EtlError)
    expect((refusal as EtlError).exitCode).toBe(3)
    expect(worked).toBe(false)
    expect(await runRows(tw)).toEqual([])
  })

  it('closes abandoned rows of other processes when it takes the lock, and leaves them alone without it', async () => {
    await tw.warehouse.db
      .insertInto('etl.runs')
      .values({ command: 'sync', arguments: '{}', pid: 4_000_001, hostname: 'old-container' })
      .execute()
    await withRun(tw.warehouse, 'schedule', { lock: false }, async () => ({ result: null, status: 'succeeded' }))
    expect((await runRows(tw)).map((row) => [row.command, row.status])).toEqual([
      ['sync', 'running'],
      ['schedule', 'succeeded'],
    ])
    await withRun(tw.warehouse, 'transform', {}, async () => ({ result: null, status: 'succeeded' }))
    expect((await runRows(tw)).map((row) => [row.command, row.status])).toEqual([
      ['sync', 'failed'],
      ['schedule', 'succeeded'],
      ['transform', 'succeeded'],
    ])
  })
})

describePostgres('withRun when the warehouse connection is lost', () => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse('postgres')
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it("throws the loss, whatever the cut statement threw, and closes the row failed with the loss's line on a fresh connection", async () => {
    const warehouse = await openWarehouse(tw.config)
    const database = new URL(tw.env.DATABASE_URL as string).pathname.slice(1)
    try {
      const failure = await withRun(warehouse, 'backfill', { failureCounters: () => ({ requests: 7 }) }, async () => {
        const lost = new Promise((resolve) => warehouse.lost.addEventListener('abort', resolve, { once: true }))
        await withAdminClient((admin) =>
          admin.query(
            `
          select pg_terminate_backend(a.pid) from pg_stat_activity a
          where a.datname = $1 and a.backend_type = 'client backend' and a.pid <> pg_backend_pid()`,
            [database],
          ),
        )
        await lost
        await executeSql(warehouse.db, 'select 1')
        return { result: 'never', status: 'succeeded' }
      }).catch((error: unknown) => error)
      const reason = warehouse.lost.reason as EtlError
      expect(failure).toBe(reason)
      expect(reason.message).toBe(
        `lost the connection to PostgreSQL 127.0.0.1:5432/${database}: terminating connection due to administrator command — the command stopped; run it again once the server answers (what it committed is kept)`,
      )
      expect(await executeSql(tw.warehouse.db, 'select command, status, counters, error from etl.runs')).toEqual([
        { command: 'backfill', status: 'failed', counters: { requests: 7 }, error: reason.message },
      ])
    } finally {
      await warehouse.close()
    }
  })
})
