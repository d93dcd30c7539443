import type { Kysely, Transaction } from 'kysely'
import { executeSql } from '../warehouse/connection.ts'
import type { WarehouseSchema } from '../warehouse/schema.ts'
import type { CompiledModel } from './compile-project.ts'
import { Relation, quoteIdentifier, quoteLiteral } from './jinja-subset.ts'

type Db = Kysely<WarehouseSchema> | Transaction<WarehouseSchema>

/** A new table is built under this suffix, then swapped in; the name is the model's own plus this. */
const BUILD_SUFFIX = '__ct_build'

/**
 * SQLSTATEs of `create or replace view` when the columns changed (dropped,
 * renamed or retyped): the view is then dropped and created instead.
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const VIEW_SHAPE_CHANGED = new Set(['42P16', '42804'])

export interface Column {
  readonly name: string
  /** As PostgreSQL spells it: `numeric(18,2)`, `text`, `date`. */
  readonly type: string
}

/** The columns of a table or view, in order; empty when it does not exist. */
export async function columnsOf(db: Db, relation: Relation): Promise<Column[]> {
  return executeSql<Column>(
    db,
    `
    select a.attname as name, format_type(a.atttypid, a.atttypmod) as type
    from pg_attribute a
    join pg_class c on c.oid = a.attrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = $1 and c.relname = $2 and a.attnum > 0 and not a.attisdropped
    order by a.attnum`,
    [relation.schema, relation.identifier],
  )
}

async function kindOf(db: Db, relation: Relation): Promise<'table' | 'view' | null> {
  const rows = await executeSql<{ relkind: string }>(
    db,
    `
    select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = $1 and c.relname = $2`,
    [relation.schema, relation.identifier],
  )
  const kind = rows[0]?.relkind
  return kind === 'r' || kind === 'p' ? 'table' : kind === 'v' || kind === 'm' ? 'view' : null
}

/** The yml descriptions as COMMENTs (what Metabase shows), for the columns the relation really has. */
async function applyComments(db: Db, model: CompiledModel, relation: Relation, kind: 'table' | 'view'): Promise<void> {
  const { description, columns } = model.node
  if (model.persistDocs.relation && description) {
    await executeSql(db, `comment on ${kind} ${relation} is ${quoteLiteral(description)}`)
  }
  if (!model.persistDocs.columns) return
  const existing = new Set((await columnsOf(db, relation)).map((column) => column.name))
  for (const column of columns) {
    if (column.description && existing.has(column.name)) {
      await executeSql(
        db,
        `comment on column ${relation}.${quoteIdentifier(column.name)} is ${quoteLiteral(column.description)}`,
      )
    }
  }
}

async function dropRelation(db: Db, relation: Relation, kind: 'table' | 'view' | null): Promise<void> {
  // Cascade as dbt does: views of the project built on this one come later in the order and are rebuilt.
  if (kind) await executeSql(db, `drop ${kind} ${relation} cascade`)
}

/**
 * Builds one model in one transaction, so that readers (Metabase) see the old
 * relation or the new one, never a half-built or missing one. A table is
 * created under a temporary name, commented, and swapped in; a view is
 * replaced in place, or dropped and created when its columns changed.
 * Returns the table's row count (null for a view).
 */
export async function buildModel(db: Kysely<WarehouseSchema>, model: CompiledModel): Promise<number | null> {
  const target = model.relation
  return db.transaction().execute(async (trx) => {
    await executeSql(trx, `create schema if not exists ${quoteIdentifier(target.schema)}`)
    const existing = await kindOf(trx, target)
    if (model.materialized === 'table') {
      const building = new Relation(target.schema, `${target.identifier}${BUILD_SUFFIX}`)
      await executeSql(trx, `drop table if exists ${building}`)
      await executeSql(trx, `create table ${building} as\n${model.sql}`)
      await applyComments(trx, model, building, 'table')
      const [count] = await executeSql<{ rows: string }>(trx, `select count(*) as rows from ${building}`)
      await dropRelation(trx, target, existing)
      await executeSql(trx, `alter table ${building} rename to ${quoteIdentifier(target.identifier)}`)
      return Number(count?.rows ?? 0)
    }
    if (existing === 'table') await dropRelation(trx, target, existing)
    await executeSql(trx, 'savepoint replace_view')
    try {
      await executeSql(trx, `create or replace view ${target} as\n${model.sql}`)
    } catch (error) {
      if (!VIEW_SHAPE_CHANGED.has((error as { code?: string }).code ?? '')) throw error
      await executeSql(trx, 'rollback to savepoint replace_view')
      await dropRelation(trx, target, 'view')
      await executeSql(trx, `create view ${target} as\n${model.sql}`)
    }
    await applyComments(trx, model, target, 'view')
    return null
  })
}
