/**
 * Scans a warehouse for clients' clear contacts, as the personal-data tests do for deals
 * (client-contacts.test.ts) and leads (lead-contacts.test.ts).
 */
import { sql } from 'kysely'
import { executeSql, type Warehouse } from '../../pipelines/warehouse/connection.ts'

export interface Relation {
  readonly schema: string
  readonly name: string
}

/** Every table, view and materialized view of the product's schemas (and public), as the superuser sees them. */
export async function allRelations(warehouse: Warehouse): Promise<Relation[]> {
  return executeSql<Relation>(
    warehouse.db,
    `select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'v', 'm', 'p') and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
       and n.nspname not like 'pg_temp%' and n.nspname not like 'pg_toast_temp%'
     order by 1, 2`,
  )
}

/**
 * Runs `work` logged in as a login role that is a member of the Metabase role, as Metabase is
 * (SET ROLE to the login on one connection; PGlite has no second login).
 */
export async function asMetabaseLogin<T>(
  warehouse: Warehouse,
  login: string,
  work: (db: Warehouse['db']) => Promise<T>,
): Promise<T> {
  return warehouse.db.connection().execute(async (connection) => {
    await sql.raw(`set role ${login}`).execute(connection)
    try {
      return await work(connection)
    } finally {
      await sql.raw('reset role').execute(connection)
    }
  })
}

/** The relations the current role may select, outside the system schemas. */
export async function readableRelations(db: Warehouse['db']): Promise<Relation[]> {
  return executeSql<Relation>(
    db,
    `select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'v', 'm', 'p') and has_schema_privilege(n.oid, 'USAGE')
       and (has_table_privilege(c.oid, 'SELECT') or has_any_column_privilege(c.oid, 'SELECT'))
       and n.nspname not in ('pg_catalog', 'information_schema')
     order by 1, 2`,
  )
}

/** The rows of each relation, as text, that hold any of the contacts: relation -> contacts found. */
export async function contactsFound(
  db: Warehouse['db'],
  relations: readonly Relation[],
  contacts: readonly string[],
): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {}
  for (const { schema, name } of relations) {
    const rows = await executeSql<{ row: string }>(db, `select t::text as row from "${schema}"."${name}" t`)
    const hits = new Set<string>()
    for (const { row } of rows) for (const contact of contacts) if (row.includes(contact)) hits.add(contact)
    if (hits.size > 0) found[`${schema}.${name}`] = [...hits].sort()
  }
  return found
}
