import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { runCli } from '../helpers/cli.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

describe('the command line', () => {
  it('lists its commands with --help and exits 0', async () => {
    const result = await runCli(['--help'])
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toMatch(/^Usage: calltouch-etl \[options\] \[command\]/)
    expect(result.stdout).toMatch(/\n {2}migrate +bring the warehouse/)
  })

  it('answers an unknown option with one line and exit code 2', async () => {
    const result = await runCli(['migrate', '--bogus'])
    expect(result.exitCode).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe("error: unknown option '--bogus' (see 'calltouch-etl --help')\n")
  })

  it('answers an unknown command with one line and exit code 2', async () => {
    const result = await runCli(['migrat'])
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toBe("error: unknown command 'migrat' (Did you mean migrate?) (see 'calltouch-etl --help')\n")
  })

  it('shows the help on stderr and exits 2 when no command is given', async () => {
    const result = await runCli([])
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toMatch(/^Usage: calltouch-etl/)
  })

  it('refuses a DATABASE_URL that is not postgres:// with exit code 2 and the fix', async () => {
    const result = await runCli(['migrate'], { DATABASE_URL: 'mysql://root:hunter2secret@localhost/db' })
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toBe(
      'error: DATABASE_URL must start with postgres:// (it starts with mysql://): set it to postgres://user:password@host:5432/database, or unset it to use the embedded warehouse\n',
    )
  })

  it('reports an unreachable server in one line, exit code 1, without its password', async () => {
    const result = await runCli(['migrate'], { DATABASE_URL: 'postgres://etl:hunter2secret@127.0.0.1:1/warehouse' })
    expect(result.exitCode).toBe(1)
    expect(result.stderr).toBe(
      'error: cannot connect to PostgreSQL 127.0.0.1:1/warehouse: connect ECONNREFUSED 127.0.0.1:1 — start the server or fix DATABASE_URL\n',
    )
    const verbose = await runCli(['migrate', '--verbose'], {
      DATABASE_URL: 'postgres://etl:hunter2secret@127.0.0.1:1/warehouse',
    })
    expect(verbose.exitCode).toBe(1)
    expect(verbose.stderr).toContain('caused by:')
    expect(verbose.stderr).not.toContain('hunter2secret')
  })
})

describeEachEngine('calltouch-etl migrate', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine, { migrate: false })
    await tw.release()
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('creates the schema on an empty warehouse, and a second run changes nothing', async () => {
    const first = await runCli(['migrate'], tw.env)
    expect(first.stderr).toBe('')
    expect(first.exitCode).toBe(0)
    expect(first.stdout).toMatch(
      /^Applied 11 migration\(s\) to the .+: 20261129080000_create_etl_bookkeeping, 20261129080100_create_deal_tables, 20261129080200_create_ad_spend, 20261129094500_create_calltouch_date_parsers, 20261129095500_create_metabase_role, 20261129170000_compare_order_numbers_bytewise, 20261207090000_key_long_tags_and_fields_by_md5, 20261207130000_key_ledger_by_source_and_account, 20261207150000_create_ad_campaign_stats, 20261207180000_protect_client_contacts, 20261207190000_create_lead_tables\.\n$/,
    )
    const second = await runCli(['migrate'], tw.env)
    expect(second.exitCode).toBe(0)
    expect(second.stdout).toMatch(/^The .+ is already at the latest schema\.\n$/)
    const warehouse = await tw.reopen()
    const tables = await executeSql<{ count: number }>(
      warehouse.db,
      `select count(*)::int as count from information_schema.tables where table_schema = 'etl' and table_name in ('runs', 'ledger')`,
    )
    expect(tables).toEqual([{ count: 2 }])
  })
})
