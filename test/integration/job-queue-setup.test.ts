import pg from 'pg'
import type PgBoss from 'pg-boss'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { silentLogger } from '../../pipelines/core/logger.ts'
import { JOB_QUEUE_SETUP_LOCK, openJobQueue } from '../../pipelines/jobs/distributed-queue.ts'
import { READ_JOB_QUEUE } from '../../pipelines/operate/distributed-jobs.ts'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

/**
 * Workers and a coordinator started together on a brand-new warehouse: pg-boss's own start raced
 * into "deadlock detected" (two of three processes, measured), so the setup runs one process at a
 * time. Holding the setup lock here shows that every opener waits for it and that, released, all
 * of them open the one queue.
 */
describePostgres('opening the job queue', () => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse('postgres', { migrate: false })
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('serializes the set-up of any number of processes starting at once on a brand-new warehouse', async () => {
    const connectionString = tw.env.DATABASE_URL ?? ''
    const holder = new pg.Client({ connectionString })
    await holder.connect()
    const opened: PgBoss[] = []
    try {
      await holder.query('select pg_advisory_lock($1)', [JOB_QUEUE_SETUP_LOCK])
      let settled = 0
      const openers = Array.from({ length: 4 }, () =>
        openJobQueue({ connectionString, logger: silentLogger() }).finally(() => settled++),
      )
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      const schemas = async (): Promise<number> =>
        (
          await executeSql<{ schemas: number }>(
            tw.warehouse.db,
            `select count(*)::int as schemas from information_schema.schemata where schema_name = 'pgboss'`,
          )
        )[0]?.schemas ?? -1
      expect(settled).toBe(0)
      expect(await schemas()).toBe(0)

      await holder.query('select pg_advisory_unlock($1)', [JOB_QUEUE_SETUP_LOCK])
      opened.push(...(await Promise.all(openers)))
      expect(await schemas()).toBe(1)
      const queues = await Promise.all(opened.map(async (boss) => (await boss.getQueue(READ_JOB_QUEUE))?.name))
      expect(queues).toEqual([READ_JOB_QUEUE, READ_JOB_QUEUE, READ_JOB_QUEUE, READ_JOB_QUEUE])
      const [rows] = await executeSql<{ versions: number; queues: number }>(
        tw.warehouse.db,
        `select (select count(*) from pgboss.version)::int as versions, (select count(*) from pgboss.queue)::int as queues`,
      )
      expect(rows).toEqual({ versions: 1, queues: 1 })
    } finally {
      await Promise.all(opened.map((boss) => boss.stop({ graceful: false, wait: true })))
      await holder.end()
    }
  }, 60_000)
})
