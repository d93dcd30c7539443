import type { Kysely } from 'kysely'
import { EtlError, messageOf } from '../core/errors.ts'
import { redact } from '../core/secrets.ts'
import { executeSql } from '../warehouse/connection.ts'
import type { WarehouseSchema } from '../warehouse/schema.ts'
import { columnsOf, type Column } from './build-model.ts'
import { canonicalInput, type CompiledProject } from './compile-project.ts'
import { scalarText, type DataTestSpec, type Row, type UnitTestSpec } from './dbt-project.ts'
import { Relation, asSelect, quoteIdentifier, quoteLiteral } from './jinja-subset.ts'
import { pythonStr } from './python-values.ts'

export const TEST_STATUSES = ['passed', 'failed', 'skipped'] as const
export type TestStatus = (typeof TEST_STATUSES)[number]

export interface TestOutcome {
  readonly name: string
  readonly kind: 'data' | 'unit'
  readonly status: TestStatus
  /** Rows the data test returned, or rows that differ in a unit test. */
  readonly failures: number
  /** Why it failed or was skipped, or what guaranteed a test that passed without a query; one line. */
  readonly message: string | null
}

/** How many differing rows a failed unit test shows. */
const SHOWN_DIFFERENCES = 3

/**
 * dbt's names for generic tests (synthesize_generic_test_names in dbt-core's
 * generic_test_builders.py): the test, the model, then every argument with
 * column_name among them, sorted by name, lists flattened, each as Python's
 * str() with runs of other characters than [0-9a-zA-Z_] made one '_', joined
 * by '__': `not_null_fct_deals_deal_key`,
 * `relationships_x_deal_key__deal_key__ref_fct_deals_`.
 */
export function dataTestName(spec: DataTestSpec): string {
  if (spec.customName) return spec.customName
  const args: Record<string, unknown> = { ...spec.args }
  if (spec.columnName !== undefined) args.column_name = spec.columnName
  const parts = Object.keys(args)
    .sort()
    .flatMap((name): unknown[] => {
      const value = args[name]
      if (Array.isArray(value)) return value as unknown[]
      if (typeof value === 'object' && value !== null) return Object.values(value as Record<string, unknown>)
      return [value]
    })
    .map((part) => pythonStr(part).replace(/[^0-9a-zA-Z_]+/g, '_'))
  return `${spec.test}_${spec.model}_${parts.join('__')}`
}

/** The SQL of a generic test: the rows that break it (dbt's own definitions). */
export function dataTestSql(spec: DataTestSpec, compiled: CompiledProject): string {
  const relation = compiled.relationOf(spec.model) as Relation
  const what = `the ${spec.test} test of ${spec.model}`
  const from = spec.where ? `(select * from ${relation} where ${spec.where}) dbt_subquery` : `${relation}`
  const column = spec.columnName
  if (column === undefined)
    throw new EtlError('INPUT', `${what} names no column: put it under a column or give column_name`)
  switch (spec.test) {
    case 'not_null':
      return `select ${column} from ${from} where ${column} is null`
    case 'unique':
      return `select ${column} as unique_field, count(*) as n_records from ${from} where ${column} is not null group by ${column} having count(*) > 1`
    case 'accepted_values': {
      const values = spec.args.values
      if (!Array.isArray(values) || values.length === 0)
        throw new EtlError('INPUT', `${what} on ${column} needs values: [...]`)
      const quote = spec.args.quote !== false
      const list = values.map((value) => (quote ? quoteLiteral(String(value)) : String(value))).join(', ')
      return `select ${column} as value_field, count(*) as n_records from ${from} group by ${column} having ${column} not in (${list})`
    }
    case 'relationships': {
      const to = scalarText(spec.args.to)
      const field = spec.args.field
      if (!to || typeof field !== 'string')
        throw new EtlError('INPUT', `${what} on ${column} needs to: ref('model') and field: column`)
      const parent = compiled.render(`{{ ${to} }}`, what)
      return `select child.from_field from (select ${column} as from_field from ${from} where ${column} is not null) child
        left join (select ${field} as to_field from ${parent}) parent on parent.to_field = child.from_field
        where parent.to_field is null`
    }
  }
}

async function countRows(db: Kysely<WarehouseSchema>, sql: string): Promise<number> {
  const [row] = await executeSql<{ failures: string }>(
    db,
    `select count(*) as failures from (\n${sql}\n) dbt_internal_test`,
  )
  return Number(row?.failures ?? 0)
}

async function runCounted(db: Kysely<WarehouseSchema>, name: string, sql: () => string): Promise<TestOutcome> {
  try {
    const failures = await countRows(db, sql())
    return {
      name,
      kind: 'data',
      status: failures === 0 ? 'passed' : 'failed',
      failures,
      message: failures === 0 ? null : `returned ${failures} row(s)`,
    }
  } catch (error) {
    return { name, kind: 'data', status: 'failed', failures: 0, message: redact(messageOf(error)) }
  }
}

/** A column name as a test may give it that PostgreSQL folds to itself (no quotes, no capitals, no expression). */
const PLAIN_COLUMN = /^[a-z_][a-z0-9_]*$/

/**
 * Whether the table itself guarantees what a `unique` or `not_null` test on a
 * plain column checks: a valid unique index on that one column, without
 * predicate or expression (NULLs are never equal in it, as the test skips
 * them), or a NOT NULL column. PostgreSQL then refuses every row that would
 * fail the test, so it cannot fail and is reported passed without scanning the
 * table (an incremental build checks only the rows it writes). Real dbt runs
 * the query; the outcome is the same.
 */
async function guaranteedByTable(
  db: Kysely<WarehouseSchema>,
  spec: DataTestSpec,
  compiled: CompiledProject,
): Promise<string | null> {
  const column = spec.columnName?.trim()
  if (spec.where !== undefined || column === undefined || !PLAIN_COLUMN.test(column)) return null
  if (spec.test !== 'unique' && spec.test !== 'not_null') return null
  const relation = compiled.relationOf(spec.model)
  if (!relation) return null
  const [row] = await executeSql<{ unique_index: string | null; not_null: boolean | null }>(
    db,
    `
    select
      (select ic.relname from pg_index i join pg_class ic on ic.oid = i.indexrelid
       where i.indrelid = c.oid and i.indisunique and i.indisvalid and i.indnatts = 1 and i.indkey[0] = a.attnum
         and i.indpred is null and i.indexprs is null
       order by ic.relname limit 1) as unique_index,
      a.attnotnull as not_null
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    where n.nspname = $1 and c.relname = $2 and c.relkind = 'r' and a.attname = $3`,
    [relation.schema, relation.identifier, column],
  )
  if (spec.test === 'unique' && row?.unique_index) return `guaranteed by the unique index ${row.unique_index}`
  if (spec.test === 'not_null' && row?.not_null === true) return `guaranteed by the column's NOT NULL constraint`
  return null
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'bigint')
    return quoteLiteral(String(value))
  return quoteLiteral(scalarText(value))
}

/** Rows as a select of typed literals; columns a row leaves out are null, as in dbt. */
function rowsSql(rows: readonly Row[], columns: readonly Column[], what: string): string {
  for (const row of rows) {
    const unknown = Object.keys(row).filter((key) => !columns.some((column) => column.name === key))
    if (unknown.length > 0)
      throw new EtlError('INPUT', `${what} has column(s) ${unknown.join(', ')}, which the relation does not have`)
  }
  const select = (row: Row | undefined): string =>
    `select ${columns.map((column) => `cast(${literal(row?.[column.name])} as ${column.type}) as ${quoteIdentifier(column.name)}`).join(', ')}`
  if (rows.length === 0) return `${select(undefined)} where false`
  return rows.map((row) => select(row)).join('\nunion all\n')
}

/** `{{ this }}` in a unit test: the CTE of the rows given as `input: this`, as dbt renders it. */
class CteRelation extends Relation {
  override toString(): string {
    return this.identifier
  }
}

/** The `input` of a unit test's given rows that stands for the model's own table. */
const THIS_INPUT = 'this'

/**
 * Runs one unit test: the model's SQL with every ref()/source() replaced by a
 * CTE of the given rows (typed like the real relation), compared as a
 * multiset with the expected rows on the columns `expect` names. With
 * `overrides: {macros: {is_incremental: true}}` the model's incremental batch
 * is rendered, `{{ this }}` being the rows given as `input: this`.
 */
async function runUnitTest(
  db: Kysely<WarehouseSchema>,
  compiled: CompiledProject,
  spec: UnitTestSpec,
): Promise<TestOutcome> {
  const name = spec.name
  const fail = (message: string, failures = 0): TestOutcome => ({
    name,
    kind: 'unit',
    status: 'failed',
    failures,
    message,
  })
  try {
    const model = compiled.models.find((candidate) => candidate.node.name === spec.model)
    if (!model) return fail(`model ${spec.model} does not exist`)
    const ctes: string[] = []
    const cteNames = new Map<string, string>()
    let self: Relation = model.relation
    for (const [index, given] of spec.given.entries()) {
      const isThis = given.input.trim() === THIS_INPUT
      const columns = await columnsOf(db, isThis ? model.relation : compiled.inputRelation(given.input))
      if (columns.length === 0)
        return fail(`the input ${given.input} does not exist in the warehouse, so its column types are unknown`)
      const cte = `__unit_input_${index}`
      if (isThis) self = new CteRelation(model.relation.schema, cte)
      else cteNames.set(canonicalInput(given.input) as string, cte)
      ctes.push(`${cte} as (\n${rowsSql(given.rows, columns, `unit test ${name} (given ${given.input})`)}\n)`)
    }
    const isIncremental = spec.isIncremental === true
    if (isIncremental && !(self instanceof CteRelation))
      return fail(`the test overrides is_incremental with true but gives no rows for this (input: this)`)
    const missing: string[] = []
    const modelSql = asSelect(
      compiled.render(model.node.sql, `model ${spec.model} in unit test ${name}`, {
        vars: spec.vars,
        self,
        isIncremental,
        input: (input) => {
          const cte = cteNames.get(input)
          if (cte === undefined) missing.push(input)
          return cte ?? 'null'
        },
      }),
    )
    if (missing.length > 0)
      return fail(`the model reads ${[...new Set(missing)].join(', ')}, which the test does not give`)

    const outputColumns = await columnsOf(db, model.relation)
    const expectedNames = [...new Set(spec.expect.flatMap((row) => Object.keys(row)))]
    const compared = expectedNames.map((column) => outputColumns.find((candidate) => candidate.name === column))
    const unknown = expectedNames.filter((_, index) => compared[index] === undefined)
    if (unknown.length > 0)
      return fail(`expect names column(s) ${unknown.join(', ')}, which ${spec.model} does not have`)
    const columns = compared as Column[]
    const list = columns.map((column) => quoteIdentifier(column.name)).join(', ')
    const sql = `with
${[...ctes, `__unit_model as (\n${modelSql}\n)`].join(',\n')},
__unit_actual as (select ${list} from __unit_model),
__unit_expected as (\n${rowsSql(spec.expect, columns, `unit test ${name} (expect)`)}\n),
__unit_missing as (select * from __unit_expected except all select * from __unit_actual),
__unit_unexpected as (select * from __unit_actual except all select * from __unit_expected)
select 'missing' as __difference, * from __unit_missing
union all
select 'unexpected' as __difference, * from __unit_unexpected`
    const differences = await executeSql<Record<string, unknown>>(db, sql)
    if (differences.length === 0) return { name, kind: 'unit', status: 'passed', failures: 0, message: null }
    const shown = differences
      .slice(0, SHOWN_DIFFERENCES)
      .map(({ __difference, ...row }) => `${String(__difference)} ${JSON.stringify(row)}`)
    return fail(`${differences.length} row(s) differ: ${shown.join('; ')}`, differences.length)
  } catch (error) {
    return fail(redact(messageOf(error)))
  }
}

/**
 * Runs the project's data tests (generic and singular) and unit tests. A test
 * whose model was not built this run is skipped, not failed.
 */
export async function runProjectTests(
  db: Kysely<WarehouseSchema>,
  compiled: CompiledProject,
  builtModels: ReadonlySet<string>,
): Promise<TestOutcome[]> {
  const outcomes: TestOutcome[] = []
  const skipped = (name: string, kind: TestOutcome['kind'], models: string[]): TestOutcome => ({
    name,
    kind,
    status: 'skipped',
    failures: 0,
    message: `not run: ${models.join(', ')} was not built`,
  })
  for (const spec of compiled.project.dataTests) {
    const name = dataTestName(spec)
    const toModel = /ref\(\s*['"]([^'"]+)['"]\s*\)/.exec(scalarText(spec.args.to))?.[1]
    const notBuilt = [spec.model, ...(toModel ? [toModel] : [])].filter((model) => !builtModels.has(model))
    if (notBuilt.length > 0) {
      outcomes.push(skipped(name, 'data', notBuilt))
      continue
    }
    const guarantee = await guaranteedByTable(db, spec, compiled).catch(() => null)
    outcomes.push(
      guarantee !== null
        ? { name, kind: 'data', status: 'passed', failures: 0, message: guarantee }
        : await runCounted(db, name, () => dataTestSql(spec, compiled)),
    )
  }
  for (const test of compiled.project.singularTests) {
    const refs = [...test.sql.matchAll(/ref\(\s*['"]([^'"]+)['"]\s*\)/g)].map((match) => match[1] as string)
    const notBuilt = refs.filter((model) => !builtModels.has(model))
    outcomes.push(
      notBuilt.length > 0
        ? skipped(test.name, 'data', [...new Set(notBuilt)])
        : await runCounted(db, test.name, () => asSelect(compiled.render(test.sql, `test ${test.name}`))),
    )
  }
  for (const spec of compiled.project.unitTests) {
    outcomes.push(
      builtModels.has(spec.model) ? await runUnitTest(db, compiled, spec) : skipped(spec.name, 'unit', [spec.model]),
    )
  }
  return outcomes
}
