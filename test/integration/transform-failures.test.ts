import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql, openWarehouse } from '../../pipelines/warehouse/connection.ts'
import { runTransform } from '../../pipelines/transform/run-transform.ts'
import { transformJob } from '../../pipelines/jobs/transform-job.ts'
import { runMain } from '../helpers/run-main.ts'
import { createTestWarehouse, describeEachEngine, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SMALL_PROJECT = fileURLToPath(new URL('../fixtures/transform/small-project/', import.meta.url))
const UNSUPPORTED_PROJECT = fileURLToPath(new URL('../fixtures/transform/unsupported-test-project/', import.meta.url))

/** The CLI's report without the seconds, which vary. */
const withoutTimes = (stdout: string): string => stdout.replace(/ in \d+\.\d\d s/g, ' in N s')

describeEachEngine('transform when something fails', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('reports a failing data test by name with the summary line, and exits 1', async () => {
    const ok = await transformJob(tw.warehouse, { projectDir: SMALL_PROJECT })
    expect([ok.ok, ok.testsPassed, ok.testsFailed]).toEqual([true, 4, 0])
    await tw.release()
    const failing = await runMain(['transform', '--project-dir', SMALL_PROJECT, '--vars', '{max_ratio: 15}'], tw.env)
    expect([failing.exitCode, withoutTimes(failing.stdout)]).toEqual([
      1,
      [
        'built table analytics.ratios in N s, 3 rows',
        'built view analytics.ratios_doubled in N s',
        'FAIL data test assert_ratios_are_small: returned 2 row(s)',
        '3 passed, 1 failed',
        '',
      ].join('\n'),
    ])
    await tw.reopen()
    const runs = await executeSql<{ status: string; error: string | null }>(
      tw.warehouse.db,
      `select status, error from etl.runs where command = 'transform' order by run_id`,
    )
    expect(runs).toEqual([
      { status: 'succeeded', error: null },
      { status: 'failed', error: '1 test(s) failed' },
    ])
  })

  it('leaves the previous table whole when its model fails mid-build, and skips what depends on it', async () => {
    const before = await executeSql(tw.warehouse.db, 'select n, ratio from analytics.ratios order by n')
    expect(before).toEqual([
      { n: 1, ratio: 10 },
      { n: 2, ratio: 20 },
      { n: 3, ratio: 30 },
    ])
    const result = await transformJob(tw.warehouse, { projectDir: SMALL_PROJECT, vars: { divisor: 0 } })
    expect(result.models.map((model) => [model.name, model.status, model.error])).toEqual([
      ['ratios', 'failed', 'division by zero'],
      ['ratios_doubled', 'skipped', 'not built because ratios failed'],
    ])
    expect(result.tests.map((test) => [test.name, test.status])).toEqual([
      ['unique_ratios_n', 'skipped'],
      ['not_null_ratios_n', 'skipped'],
      ['not_null_ratios_doubled_doubled', 'skipped'],
      ['assert_ratios_are_small', 'skipped'],
    ])
    expect(result.ok).toBe(false)
    expect(await executeSql(tw.warehouse.db, 'select n, ratio from analytics.ratios order by n')).toEqual(before)
    expect(
      await executeSql(
        tw.warehouse.db,
        `select table_name from information_schema.tables where table_schema = 'analytics' order by 1`,
      ),
    ).toEqual([{ table_name: 'ratios' }, { table_name: 'ratios_doubled' }])
    const [run] = await executeSql<{ status: string; error: string }>(
      tw.warehouse.db,
      `select status, error from etl.runs where run_id = $1`,
      [result.runId],
    )
    expect(run).toEqual({ status: 'failed', error: 'model ratios: division by zero' })
  })

  it('replaces a view whose columns changed by dropping and creating it in one transaction', async () => {
    await executeSql(tw.warehouse.db, 'drop view analytics.ratios_doubled')
    await executeSql(tw.warehouse.db, 'create view analytics.ratios_doubled as select 1 as other_column, 2 as n')
    const result = await transformJob(tw.warehouse, { projectDir: SMALL_PROJECT, runTests: false })
    expect(result.models.map((model) => model.status)).toEqual(['built', 'built'])
    expect(await executeSql(tw.warehouse.db, 'select n, doubled from analytics.ratios_doubled order by n')).toEqual([
      { n: 1, doubled: 20 },
      { n: 2, doubled: 40 },
      { n: 3, doubled: 60 },
    ])
  })

  it('refuses a project outside the supported subset with exit 2 before touching the warehouse', async () => {
    const refused = await runMain(['transform', '--project-dir', UNSUPPORTED_PROJECT], tw.env)
    expect([refused.exitCode, refused.stdout, refused.stderr]).toEqual([
      2,
      '',
      "error: dbt project file models/schema.yml: numbers uses the data test 'dbt_utils.expression_is_true', which calltouch-etl transform does not support (supported: unique, not_null, accepted_values, relationships); write it as a singular test in tests/ or run the project with real dbt\n",
    ])
    const bad = await runMain(
      ['transform', '--project-dir', SMALL_PROJECT, '--vars', '{divisor: 1, revenue_date: yesterday}'],
      tw.env,
    )
    expect([bad.exitCode, bad.stderr]).toEqual([
      2,
      "error: --vars names 'revenue_date', which the project does not declare; declared vars: divisor, max_ratio\n",
    ])
    const runs = await executeSql<{ count: string }>(
      tw.warehouse.db,
      `select count(*) from etl.runs where command = 'transform'`,
    )
    expect(runs).toEqual([{ count: '4' }])
  })
})

describePostgres('transform seen from another connection', () => {
  it('never shows a reader a missing, empty or half-built table while models are rebuilt, and keeps them readable by the Metabase role', async () => {
    const tw = await createTestWarehouse('postgres')
    const reader = await openWarehouse(tw.config)
    try {
      await runTransform(tw.warehouse.db, { projectDir: SMALL_PROJECT, runTests: false })
      const seen: string[] = []
      let building = true
      const reading = (async () => {
        while (building) {
          const rows = await executeSql<{ rows: string; total: string }>(
            reader.db,
            'select count(*) as rows, sum(ratio) as total from analytics.ratios',
          )
          seen.push(`${rows[0]?.rows}/${rows[0]?.total}`)
        }
      })()
      for (let run = 0; run < 5; run++)
        await runTransform(tw.warehouse.db, { projectDir: SMALL_PROJECT, runTests: false })
      building = false
      await reading
      expect(seen.length).toBeGreaterThan(5)
      expect([...new Set(seen)]).toEqual(['3/60'])
      // The swapped-in table is new, and Metabase's read-only role still reads it (default privileges).
      expect(
        await executeSql(
          tw.warehouse.db,
          `
        select c.relname, has_table_privilege('calltouch_metabase', c.oid, 'select') as readable
        from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'analytics' order by 1`,
        ),
      ).toEqual([
        { relname: 'ratios', readable: true },
        { relname: 'ratios_doubled', readable: true },
      ])
    } finally {
      await reader.close()
      await tw.destroy()
    }
  })
})
