import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { runCli } from '../helpers/cli.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

/** CLI runs on a busy 2-core machine: PGlite starts in 2–5 s and each run starts tsx. */
const CLI_TEST_TIMEOUT_MS = 120_000

const PROBE_QUERY = 'select id, label, amount, big, happened_on, flag from public.sql_probe where id <= 3 order by id'

describeEachEngine('calltouch-etl sql', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    await executeSql(
      tw.warehouse.db,
      'create table public.sql_probe (id int primary key, label text, amount numeric(12, 2), big bigint, happened_on date, flag boolean)',
    )
    await executeSql(
      tw.warehouse.db,
      `insert into public.sql_probe values
        (1, 'plain', 1234.50, 9007199254740993, '2026-10-01', true),
        (2, 'say "hi", twice', -0.05, null, '2026-10-02', false),
        (3, '', null, 1, null, null)`,
    )
    await tw.release()
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  const countProbeRows = async (): Promise<number> => {
    const warehouse = await tw.reopen()
    try {
      const [row] = await executeSql<{ count: number }>(
        warehouse.db,
        'select count(*)::int as count from public.sql_probe',
      )
      return row?.count ?? -1
    } finally {
      await tw.release()
    }
  }

  it(
    'prints the rows as a table, numbers right-aligned, NULL empty, with the row count',
    async () => {
      const result = await runCli(['sql', PROBE_QUERY], tw.env)
      expect(result.stderr).toBe('')
      expect(result.exitCode).toBe(0)
      expect(result.stdout).toBe(
        [
          '┌────┬─────────────────┬─────────┬──────────────────┬─────────────┬──────┐',
          '│ id │ label           │  amount │              big │ happened_on │ flag │',
          '├────┼─────────────────┼─────────┼──────────────────┼─────────────┼──────┤',
          '│  1 │ plain           │ 1234.50 │ 9007199254740993 │ 2026-10-01  │ t    │',
          '├────┼─────────────────┼─────────┼──────────────────┼─────────────┼──────┤',
          '│  2 │ say "hi", twice │   -0.05 │                  │ 2026-10-02  │ f    │',
          '├────┼─────────────────┼─────────┼──────────────────┼─────────────┼──────┤',
          '│  3 │                 │         │                1 │             │      │',
          '└────┴─────────────────┴─────────┴──────────────────┴─────────────┴──────┘',
          '(3 rows)',
          '',
        ].join('\n'),
      )
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'prints RFC 4180 CSV with --csv: a header, CRLF, quotes doubled, NULL empty and an empty text ""',
    async () => {
      const result = await runCli(['sql', '--csv', PROBE_QUERY], tw.env)
      expect(result.exitCode).toBe(0)
      expect(result.stdout).toBe(
        'id,label,amount,big,happened_on,flag\r\n' +
          '1,plain,1234.50,9007199254740993,2026-10-01,t\r\n' +
          '2,"say ""hi"", twice",-0.05,,2026-10-02,f\r\n' +
          '3,"",,1,,\r\n',
      )
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'prints a JSON array of objects with --json, numeric and bigint as exact strings',
    async () => {
      const result = await runCli(['sql', '--json', PROBE_QUERY], tw.env)
      expect(result.exitCode).toBe(0)
      expect(JSON.parse(result.stdout)).toEqual([
        { id: 1, label: 'plain', amount: '1234.50', big: '9007199254740993', happened_on: '2026-10-01', flag: true },
        { id: 2, label: 'say "hi", twice', amount: '-0.05', big: null, happened_on: '2026-10-02', flag: false },
        { id: 3, label: '', amount: null, big: '1', happened_on: null, flag: null },
      ])
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'refuses a write with one line and exit 2, and changes nothing',
    async () => {
      const result = await runCli(['sql', "insert into public.sql_probe (id, label) values (9, 'nine')"], tw.env)
      expect(result.exitCode).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr).toBe(
        'error: cannot execute INSERT in a read-only transaction — sql only reads unless given --write; nothing was changed\n',
      )
      expect(await countProbeRows()).toBe(3)
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'commits a write given --write and says how many rows it changed',
    async () => {
      const result = await runCli(
        ['sql', '--write', "insert into public.sql_probe (id, label) values (10, 'ten'), (11, 'eleven')"],
        tw.env,
      )
      expect(result.stderr).toBe('')
      expect(result.exitCode).toBe(0)
      expect(result.stdout).toBe('done: 2 row(s) changed\n')
      expect(await countProbeRows()).toBe(5)
      const undo = await runCli(['sql', '--write', 'delete from public.sql_probe where id >= 10'], tw.env)
      expect(undo.stdout).toBe('done: 2 row(s) changed\n')
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'refuses two statements with one line and exit 2, running neither',
    async () => {
      const result = await runCli(['sql', '--write', 'delete from public.sql_probe; select 1'], tw.env)
      expect(result.exitCode).toBe(2)
      expect(result.stderr).toBe('error: sql runs one statement at a time: run each statement on its own\n')
      expect(await countProbeRows()).toBe(3)
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    "reports PostgreSQL's error in one line with its line and column, exit 1",
    async () => {
      const syntax = await runCli(['sql', 'select id,\n  from public.sql_probe'], tw.env)
      expect(syntax.exitCode).toBe(1)
      expect(syntax.stdout).toBe('')
      expect(syntax.stderr).toBe('error: syntax error at or near "from" (line 2, column 3)\n')
      const missing = await runCli(['sql', 'select nope from public.sql_probe'], tw.env)
      expect(missing.exitCode).toBe(1)
      expect(missing.stderr).toBe('error: column "nope" does not exist (line 1, column 8)\n')
    },
    CLI_TEST_TIMEOUT_MS,
  )
})

describe('calltouch-etl sql on an embedded warehouse never migrated', () => {
  let dir: string
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'calltouch-etl-sql-empty-'))
  })
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true })
  })

  it(
    'answers without migrating it',
    async () => {
      const env = { CALLTOUCH_ETL_DATA_DIR: path.join(dir, 'warehouse') }
      const result = await runCli(
        ['sql', '--csv', "select count(*) as schemas from pg_namespace where nspname in ('etl', 'calltouch')"],
        env,
      )
      expect(result.stderr).toBe('')
      expect(result.stdout).toBe('schemas\r\n0\r\n')
      expect(result.exitCode).toBe(0)
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'refuses --csv with --json, and an empty statement, with exit 2',
    async () => {
      const env = { CALLTOUCH_ETL_DATA_DIR: path.join(dir, 'warehouse') }
      const both = await runCli(['sql', '--csv', '--json', 'select 1'], env)
      expect(both.exitCode).toBe(2)
      expect(both.stderr).toBe('error: sql: give --csv or --json, not both\n')
      const empty = await runCli(['sql', '  '], env)
      expect(empty.exitCode).toBe(2)
      expect(empty.stderr).toBe('error: sql: give one SQL statement, e.g. calltouch-etl sql "select 1"\n')
    },
    CLI_TEST_TIMEOUT_MS,
  )
})
