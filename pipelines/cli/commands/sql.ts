import type { Command } from 'commander'
import { warehouseConfigFromEnv } from '../../core/config.ts'
import { runOneStatement, type ResultColumn, type StatementResult } from '../../warehouse/one-statement.ts'
import { say, usageError, type Action, type CliContext } from '../context.ts'
import { renderTable } from '../text-table.ts'

interface SqlOptions {
  readonly csv?: boolean
  readonly json?: boolean
  readonly write?: boolean
}

export function registerSqlCommand(program: Command, action: Action): void {
  program
    .command('sql')
    .description(
      'run one SQL statement on the warehouse (DATABASE_URL, or the embedded one) and print its rows; read-only unless --write; never migrates',
    )
    .argument('<statement>', 'one SQL statement, e.g. "select * from analytics.fct_marketing_daily limit 5"')
    .option('--csv', 'print CSV (RFC 4180: a header line, CRLF line ends; NULL is an empty field, an empty text "")')
    .option('--json', 'print a JSON array of objects; numeric and bigint values as exact strings')
    .option('--write', 'let the statement change the warehouse and commit it (default: a READ ONLY transaction)')
    .action(
      action(async (ctx: CliContext, command: Command) => {
        const statement = command.args[0] ?? ''
        const options = command.opts<SqlOptions>()
        if (options.csv === true && options.json === true) throw usageError('sql: give --csv or --json, not both')
        if (statement.trim() === '') throw usageError('sql: give one SQL statement, e.g. calltouch-etl sql "select 1"')
        const config = warehouseConfigFromEnv(ctx.env, ctx.cwd)
        const result = await runOneStatement(config, statement, { write: options.write === true })
        if (options.json === true) say(ctx, formatJson(result))
        else if (options.csv === true) ctx.stdout.write(formatCsv(result))
        else say(ctx, formatTable(result))
      }),
    )
}

/** Type oids whose values are numbers: right-aligned in a table. */
const NUMBER_TYPES: ReadonlySet<number> = new Set([20, 21, 23, 26, 700, 701, 790, 1700])
/** Type oids a JavaScript number holds exactly (int2, int4, oid), printed as JSON numbers. */
const SMALL_INTEGER_TYPES: ReadonlySet<number> = new Set([21, 23, 26])
/** float4 and float8: PostgreSQL prints the shortest text that reads back exactly, as JavaScript does. */
const FLOAT_TYPES: ReadonlySet<number> = new Set([700, 701])
const BOOLEAN_TYPE = 16

/**
 * The rows for people: a table as `report` draws it, NULL left empty as psql
 * does, and the row count; a statement without columns says how many rows it
 * changed.
 */
export function formatTable(result: StatementResult): string {
  if (result.columns.length === 0) return `done: ${result.affectedRows} row(s) changed`
  const table = renderTable(
    result.columns.map((column) => ({
      title: column.name,
      align: NUMBER_TYPES.has(column.typeOid) ? 'right' : 'left',
    })),
    result.rows.map((row) => row.map((value) => value ?? '')),
  )
  return `${table}\n(${result.rows.length} ${result.rows.length === 1 ? 'row' : 'rows'})`
}

/** RFC 4180: a header line, CRLF line ends, fields quoted when they hold a comma, quote or line end; NULL empty, '' quoted. */
export function formatCsv(result: StatementResult): string {
  const field = (value: string | null): string => {
    if (value === null) return ''
    return value === '' || /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
  }
  const lines = [result.columns.map((column) => field(column.name)), ...result.rows.map((row) => row.map(field))]
  return lines.map((line) => `${line.join(',')}\r\n`).join('')
}

/**
 * An array of objects keyed by column name: booleans, and numbers a
 * JavaScript number holds exactly (int2, int4, oid, finite floats), as JSON
 * values; everything else — numeric, bigint, dates, json — as PostgreSQL's
 * exact text. Two columns of one name would overwrite each other, so they are
 * refused.
 */
export function formatJson(result: StatementResult): string {
  const names = result.columns.map((column) => column.name)
  const repeated = names.find((name, index) => names.indexOf(name) !== index)
  if (repeated !== undefined)
    throw usageError(
      `sql --json: two columns are named ${JSON.stringify(repeated)}; name them apart (… AS another_name)`,
    )
  const objects = result.rows.map((row) =>
    Object.fromEntries(result.columns.map((column, index) => [column.name, jsonValue(column, row[index] ?? null)])),
  )
  return JSON.stringify(objects, null, 2)
}

function jsonValue(column: ResultColumn, text: string | null): string | number | boolean | null {
  if (text === null) return null
  if (column.typeOid === BOOLEAN_TYPE) return text === 't'
  if (SMALL_INTEGER_TYPES.has(column.typeOid)) return Number(text)
  if (FLOAT_TYPES.has(column.typeOid) && Number.isFinite(Number(text))) return Number(text)
  return text
}
