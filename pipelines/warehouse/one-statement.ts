import type { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { describeWarehouse, type WarehouseConfig } from '../core/config.ts'
import { EtlError, messageOf } from '../core/errors.ts'
import { redact } from '../core/secrets.ts'
import { openWarehouse } from './connection.ts'

/** A column of a statement's result, in the order the statement gave it (names may repeat). */
export interface ResultColumn {
  readonly name: string
  /** The column's type (pg_type.oid), so callers can align numbers or keep them exact. */
  readonly typeOid: number
}

/**
 * What one statement returned: its columns, and its rows as PostgreSQL's own
 * text of each value (null for SQL NULL), so no value passes through a
 * JavaScript number or Date on the way to the screen.
 */
export interface StatementResult {
  readonly columns: readonly ResultColumn[]
  readonly rows: readonly (readonly (string | null)[])[]
  /** Rows a data-changing statement affected (0 for a query). */
  readonly affectedRows: number
}

export interface OneStatementOptions {
  /** Commit what the statement changes; otherwise it runs in a READ ONLY transaction that is rolled back. */
  readonly write: boolean
}

/** SQLSTATE 25006: the statement tried to change something in a READ ONLY transaction. */
const READ_ONLY_SQL_TRANSACTION = '25006'

/** What PostgreSQL says when one prepared statement holds several (the extended protocol allows one). */
const SEVERAL_STATEMENTS = 'cannot insert multiple commands into a prepared statement'

const identity = (text: string): string => text

/**
 * Runs exactly one SQL statement on the configured warehouse and returns its
 * result as text. It never migrates, so a read-only login and an empty
 * warehouse both work. The statement is sent with the extended protocol,
 * which carries one statement only: PostgreSQL itself refuses a text of
 * several, with no splitting of SQL here.
 *
 * Refusals are EtlErrors: several statements, or a write without `write`,
 * are USAGE (exit 2, nothing changed); any other error of PostgreSQL is
 * FAILED (exit 1), one line with its position in the statement and its hint.
 *
 * @example
 * const result = await runOneStatement(config, 'select count(*) from analytics.fct_marketing_daily', { write: false })
 * // { columns: [{ name: 'count', typeOid: 20 }], rows: [['90']], affectedRows: 0 }
 */
export async function runOneStatement(
  config: WarehouseConfig,
  sql: string,
  options: OneStatementOptions,
): Promise<StatementResult> {
  const begin = options.write ? 'BEGIN' : 'BEGIN READ ONLY'
  const end = options.write ? 'COMMIT' : 'ROLLBACK'
  try {
    return config.engine === 'postgres'
      ? await onPostgres(config, sql, begin, end)
      : await onEmbedded(config, sql, begin, end)
  } catch (error) {
    throw statementError(error, sql)
  }
}

async function onPostgres(
  config: Extract<WarehouseConfig, { engine: 'postgres' }>,
  sql: string,
  begin: string,
  end: string,
): Promise<StatementResult> {
  // A client of its own, not the warehouse's pool: the pool's type parsers turn values into
  // JavaScript ones, and here every value stays PostgreSQL's text.
  const client = new pg.Client({ connectionString: config.databaseUrl, options: '-c TimeZone=UTC' })
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (error) {
    await client.end().catch(() => {})
    throw new EtlError(
      'WAREHOUSE',
      `cannot connect to ${describeWarehouse(config)}: ${redact(messageOf(error))} — start the server or fix DATABASE_URL`,
      { cause: error },
    )
  }
  try {
    await client.query(begin)
    const query: pg.QueryArrayConfig & { queryMode: 'extended' } = {
      text: sql,
      rowMode: 'array',
      queryMode: 'extended',
      types: { getTypeParser: () => identity },
    }
    const result = await client.query<(string | null)[]>(query)
    await client.query(end)
    return {
      columns: result.fields.map((field) => ({ name: field.name, typeOid: field.dataTypeID })),
      rows: result.rows,
      affectedRows: result.command === 'SELECT' ? 0 : (result.rowCount ?? 0),
    }
  } finally {
    await client.end().catch(() => {})
  }
}

async function onEmbedded(
  config: Extract<WarehouseConfig, { engine: 'pglite' }>,
  sql: string,
  begin: string,
  end: string,
): Promise<StatementResult> {
  // openWarehouse holds the data directory's lock while the statement runs.
  const warehouse = await openWarehouse(config, { embeddedEngine: 'in-process' })
  try {
    const engine = warehouse.embedded
    if (engine === undefined) throw new Error('the embedded warehouse came without its engine')
    await engine.exec(begin)
    try {
      const result = await engine.query<(string | null)[]>(sql, [], {
        rowMode: 'array',
        parsers: await textParsers(engine),
      })
      await engine.exec(end)
      return {
        columns: result.fields.map((field) => ({ name: field.name, typeOid: field.dataTypeID })),
        rows: result.rows,
        affectedRows: result.affectedRows ?? 0,
      }
    } finally {
      if (engine.isInTransaction()) await engine.exec('ROLLBACK')
    }
  } finally {
    await warehouse.close()
  }
}

/** PGlite parses the types it knows (its built-in ones and the instance's): each is told to keep the text. */
async function textParsers(engine: PGlite): Promise<Record<string, (text: string) => string>> {
  const { types } = await import('@electric-sql/pglite')
  return Object.fromEntries(
    [...Object.keys(types.parsers), ...Object.keys(engine.parsers)].map((oid) => [oid, identity]),
  )
}

/** The error of a statement as one line: a refusal (exit 2) or PostgreSQL's message with where and how (exit 1). */
function statementError(error: unknown, sql: string): unknown {
  if (error instanceof EtlError) return error
  const details = error as { code?: unknown; position?: unknown; hint?: unknown }
  const message = oneLine(messageOf(error))
  if (message === SEVERAL_STATEMENTS)
    return new EtlError('USAGE', 'sql runs one statement at a time: run each statement on its own', {
      cause: error,
    })
  if (details.code === READ_ONLY_SQL_TRANSACTION)
    return new EtlError('USAGE', `${message} — sql only reads unless given --write; nothing was changed`, {
      cause: error,
    })
  const position = typeof details.position === 'string' ? Number(details.position) : Number.NaN
  const where = Number.isInteger(position) && position > 0 ? ` (${lineAndColumn(sql, position)})` : ''
  const hint = typeof details.hint === 'string' && details.hint !== '' ? `; hint: ${oneLine(details.hint)}` : ''
  return new EtlError('FAILED', `${message}${where}${hint}`, { cause: error })
}

/** PostgreSQL's 1-based character position in the statement as 'line L, column C'. */
export function lineAndColumn(sql: string, position: number): string {
  const before = [...sql].slice(0, position - 1).join('')
  const lines = before.split('\n')
  return `line ${lines.length}, column ${[...(lines.at(-1) ?? '')].length + 1}`
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}
