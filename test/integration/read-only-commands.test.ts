import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { migrateTo, migrationStatus } from '../../pipelines/warehouse/migrator.ts'
import { runMain } from '../helpers/run-main.ts'
import { testDatabaseUrl, withAdminClient } from '../helpers/postgres-server.ts'
import { createTestWarehouse, describeEachEngine, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE = { CALLTOUCH_SITE_ID: '12345', CALLTOUCH_API_TOKEN: 'read-only-token' }
/** The migration before the last two: a warehouse an older release left behind. */
const OLDER_SCHEMA = '20261207130000_key_ledger_by_source_and_account'

describePostgres('status and report with a read-only login', () => {
  let tw: TestWarehouse
  const reader = `ct_reader_${process.pid}`
  let readerUrl: string

  beforeAll(async () => {
    tw = await createTestWarehouse('postgres')
    await tw.release()
    // The marts exist once transform has run (as the owner).
    expect((await runMain(['transform', '--no-tests'], tw.env)).exitCode).toBe(0)
    const database = new URL(tw.env.DATABASE_URL as string).pathname.slice(1)
    await withAdminClient((client) => client.query(`drop role if exists ${reader}`))
    await withAdminClient((client) => client.query(`create role ${reader} login password 'reader-secret'`))
    const warehouse = await tw.reopen()
    for (const schema of ['etl', 'calltouch', 'marketing', 'analytics']) {
      await executeSql(warehouse.db, `grant usage on schema ${schema} to ${reader}`)
      await executeSql(warehouse.db, `grant select on all tables in schema ${schema} to ${reader}`)
    }
    await tw.release()
    const url = new URL(testDatabaseUrl(database))
    url.username = reader
    url.password = 'reader-secret'
    readerUrl = url.toString()
  })
  afterAll(async () => {
    await tw?.destroy()
    await withAdminClient((client) => client.query(`drop role if exists ${reader}`))
  })

  it('status reads the warehouse without migrating it', async () => {
    const result = await runMain(['status'], { ...SITE, DATABASE_URL: readerUrl })
    expect(result.stderr).toBe('')
    // Nothing was read yet, so status is not healthy; but it answered.
    expect(result.exitCode).toBe(1)
    expect(result.stdout).toContain('site 12345 stale: never read completely: run calltouch-etl sync')
  })

  it('report roi reads the marts without migrating them', async () => {
    const result = await runMain(['report', 'roi'], { DATABASE_URL: readerUrl })
    expect(result.stderr).toBe('')
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toMatch(/^ROI by channel, all days, all sites \(.+\): no rows\./)
  })

  it('a login that may not read etl gets one line naming the grants it needs', async () => {
    const warehouse = await tw.reopen()
    await executeSql(warehouse.db, `revoke usage on schema etl from ${reader}`)
    await tw.release()
    try {
      const result = await runMain(['status'], { ...SITE, DATABASE_URL: readerUrl })
      expect(result.exitCode).toBe(1)
      expect(result.stderr).toMatch(
        /^error: the login of the PostgreSQL .+ may not read what this command needs \(permission denied for schema etl\): grant it usage and select on the schemas etl, calltouch, marketing and analytics \(README, Deploy\)\n$/,
      )
    } finally {
      await executeSql((await tw.reopen()).db, `grant usage on schema etl to ${reader}`).catch(() => {})
      await tw.release()
    }
  })
})

describeEachEngine('status and report on a warehouse behind the code', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine, { migrate: false })
    await tw.release()
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('say the warehouse has no schema yet, exit 1, and create nothing', async () => {
    for (const args of [['status'], ['report', 'roi']]) {
      const result = await runMain(args, { ...SITE, ...tw.env })
      expect(result.exitCode).toBe(1)
      expect(result.stderr).toMatch(
        /^error: the .+ has no schema yet: run calltouch-etl migrate with a login that may change it, then run this again\n$/,
      )
    }
    const warehouse = await tw.reopen()
    expect((await migrationStatus(warehouse.db)).every((migration) => migration.executedAt === undefined)).toBe(true)
    await tw.release()
  })

  it('name the migrations missing, exit 1, and apply none of them', async () => {
    const warehouse = await tw.reopen()
    await migrateTo(warehouse.db, OLDER_SCHEMA)
    const pending = (await migrationStatus(warehouse.db)).filter((m) => m.executedAt === undefined).map((m) => m.name)
    await tw.release()
    expect(pending.length).toBeGreaterThan(0)
    for (const args of [['status'], ['report', 'roi']]) {
      const result = await runMain(args, { ...SITE, ...tw.env })
      expect(result.exitCode).toBe(1)
      expect(result.stderr).toMatch(
        new RegExp(
          `^error: the .+ is ${pending.length} migration\\(s\\) behind this calltouch-etl \\(${pending.join(', ')}\\): run calltouch-etl migrate with a login that may change it, then run this again\\n$`,
        ),
      )
    }
    const after = await tw.reopen()
    expect((await migrationStatus(after.db)).filter((m) => m.executedAt === undefined).map((m) => m.name)).toEqual(
      pending,
    )
    await tw.release()
  })
})
