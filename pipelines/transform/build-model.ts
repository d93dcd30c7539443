import { createHash } from 'node:crypto'
import type { Kysely, Transaction } from 'kysely'
import { executeSql } from '../warehouse/connection.ts'
import type { WarehouseSchema } from '../warehouse/schema.ts'
import type { CompiledModel, IncrementalModel } from './compile-project.ts'
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
    where (n.nspname = $1 or ($1 = 'pg_temp' and n.oid = pg_my_temp_schema())) and c.relname = $2
      and a.attnum > 0 and not a.attisdropped
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
 * What an incremental table was last built from (its SQL, key and hooks, hashed, with those of
 * the models it reads), so that a changed model is built whole instead of merged into a table its
 * old SQL made; and what a view was last created as (its SQL and descriptions), so that an
 * unchanged view is not created again. In etl, which the Metabase role cannot read; created by
 * the runner itself because real dbt never needs it.
 */
const STATE_TABLE = 'etl.transform_incremental_models'

export const BUILD_MODES = ['full', 'incremental'] as const
export type BuildMode = (typeof BUILD_MODES)[number]

export interface BuildOptions {
  /** Build incremental models whole, as dbt's `--full-refresh`. */
  readonly fullRefresh?: boolean
  /**
   * What an incremental model's table is built from, hashed (see lineageHashes); a table built from
   * another is built whole. Default: the model's own definition.
   */
  readonly lineageHash?: string
}

export interface BuiltModel {
  /** Rows of the table after the build; null for a view. */
  readonly rows: number | null
  /** How an incremental model was built; null for a view or a table. */
  readonly mode: BuildMode | null
}

function definitionHash(model: CompiledModel): string {
  const definition = JSON.stringify([model.sql, model.incremental, model.postHooks, model.indexes])
  return createHash('sha256').update(definition).digest('hex')
}

/** A view as it is created: its SQL and the descriptions written on it. */
function viewHash(model: CompiledModel): string {
  const { description, columns } = model.node
  const definition = JSON.stringify([model.sql, model.persistDocs, description, columns])
  return createHash('sha256').update(definition).digest('hex')
}

/**
 * Each model's definition hashed with those of every model it reads, through views and all: an
 * incremental table is built whole when anything it is computed from changed, not only its own
 * SQL (a view above it with another --vars, a macro, a model it reads). In dependency order.
 */
export function lineageHashes(models: readonly CompiledModel[]): Map<string, string> {
  const hashes = new Map<string, string>()
  for (const model of models) {
    const upstream = [...model.dependsOn].sort().map((name) => `${name}=${hashes.get(name) ?? ''}`)
    const lineage = JSON.stringify([definitionHash(model), upstream])
    hashes.set(model.node.name, createHash('sha256').update(lineage).digest('hex'))
  }
  return hashes
}

async function storedHash(db: Db, target: Relation): Promise<string | undefined> {
  await executeSql(
    db,
    `create table if not exists ${STATE_TABLE} (relation text primary key, definition_hash text not null, built_at timestamptz not null)`,
  )
  const [row] = await executeSql<{ definition_hash: string }>(
    db,
    `select definition_hash from ${STATE_TABLE} where relation = $1`,
    [String(target)],
  )
  return row?.definition_hash
}

async function storeHash(db: Db, target: Relation, hash: string): Promise<void> {
  await executeSql(
    db,
    `insert into ${STATE_TABLE} (relation, definition_hash, built_at) values ($1, $2, now())
     on conflict (relation) do update set definition_hash = excluded.definition_hash, built_at = excluded.built_at`,
    [String(target), hash],
  )
}

const sameColumns = (a: readonly Column[], b: readonly Column[]): boolean =>
  a.length === b.length && a.every((column, index) => column.name === b[index]?.name && column.type === b[index]?.type)

/**
 * dbt-postgres' `indexes`, on a table just built whole (dbt creates them then, not on an incremental
 * build). Named by PostgreSQL after the table, once the old table with its indexes is gone.
 */
async function createIndexes(trx: Db, model: CompiledModel): Promise<void> {
  for (const index of model.indexes) {
    await executeSql(
      trx,
      `create ${index.unique ? 'unique ' : ''}index on ${model.relation}${index.type ? ` using ${index.type}` : ''} (${index.columns.join(', ')})`,
    )
  }
}

/** A table built whole under a temporary name, commented and swapped in; returns its row count. */
async function buildTable(trx: Db, model: CompiledModel, existing: 'table' | 'view' | null): Promise<number> {
  const target = model.relation
  const building = new Relation(target.schema, `${target.identifier}${BUILD_SUFFIX}`)
  await executeSql(trx, `drop table if exists ${building}`)
  await executeSql(trx, `create table ${building} as\n${model.sql}`)
  await applyComments(trx, model, building, 'table')
  await dropRelation(trx, target, existing)
  await executeSql(trx, `alter table ${building} rename to ${quoteIdentifier(target.identifier)}`)
  await createIndexes(trx, model)
  for (const hook of model.postHooks) await executeSql(trx, hook)
  // Statistics now, not when autovacuum comes round: the next models and the next incremental
  // build plan their reads of this table with them.
  await executeSql(trx, `analyze ${target}`)
  const [count] = await executeSql<{ rows: string }>(trx, `select count(*) as rows from ${target}`)
  return Number(count?.rows ?? 0)
}

/**
 * dbt-postgres' delete+insert: the batch (the model with is_incremental() true)
 * goes into a temporary table; the rows of the table whose unique_key the batch
 * holds are deleted, the batch inserted, the post-hooks run. Returns false,
 * having changed nothing, when the batch's columns are not the table's (the
 * model changed shape: it is then built whole).
 */
async function mergeBatch(trx: Db, model: CompiledModel, incremental: IncrementalModel): Promise<boolean> {
  const target = model.relation
  const batch = new Relation('pg_temp', `${target.identifier}${BUILD_SUFFIX}`)
  await executeSql(trx, `drop table if exists ${batch}`)
  await executeSql(trx, `create temporary table ${quoteIdentifier(batch.identifier)} as\n${incremental.sql}`)
  const columns = await columnsOf(trx, target)
  if (!sameColumns(columns, await columnsOf(trx, batch))) {
    await executeSql(trx, `drop table ${batch}`)
    return false
  }
  const [key, ...otherKeys] = incremental.uniqueKey.map((column) => quoteIdentifier(column))
  if (key !== undefined && otherKeys.length === 0) {
    // One key column: its values as one array, so the table is searched by its index for them (as a
    // join it would be read whole whenever the batch looks big enough to the planner). NULL matches
    // nothing either way, as in dbt's `where key in (select key from batch)`.
    await executeSql(trx, `delete from ${target} where ${key} = any(array(select distinct ${key} from ${batch}))`)
  } else {
    // A temporary table has no statistics until analyzed: without them the join is planned blind.
    await executeSql(trx, `analyze ${batch}`)
    const matches = incremental.uniqueKey
      .map((column) => `${batch}.${quoteIdentifier(column)} = ${target}.${quoteIdentifier(column)}`)
      .join(' and ')
    await executeSql(trx, `delete from ${target} using ${batch} where ${matches}`)
  }
  const list = columns.map((column) => quoteIdentifier(column.name)).join(', ')
  await executeSql(trx, `insert into ${target} (${list}) select ${list} from ${batch}`)
  await executeSql(trx, `drop table ${batch}`)
  for (const hook of model.postHooks) await executeSql(trx, hook)
  await applyComments(trx, model, target, 'table')
  return true
}

/**
 * Builds one model in one transaction, so that readers (Metabase) see the old
 * relation or the new one, never a half-built or missing one. A table is
 * created under a temporary name, commented, and swapped in (an incremental
 * model's batch merged instead, see mergeBatch); a view is replaced in place,
 * or dropped and created when its columns changed, or left as it is when
 * nothing of it changed. Returns the table's row count (null for a view).
 */
export async function buildModel(
  db: Kysely<WarehouseSchema>,
  model: CompiledModel,
  options: BuildOptions = {},
): Promise<BuiltModel> {
  const target = model.relation
  return db.transaction().execute(async (trx): Promise<BuiltModel> => {
    await executeSql(trx, `create schema if not exists ${quoteIdentifier(target.schema)}`)
    const existing = await kindOf(trx, target)
    if (model.materialized === 'table') return { rows: await buildTable(trx, model, existing), mode: null }
    if (model.incremental) {
      // Built whole, as dbt does, on --full-refresh or when there is no table yet; and, unlike
      // dbt (which would merge into the old shape), when what the table is computed from changed:
      // the model's SQL, key, hooks or indexes, or any model it reads (the lineage hash).
      const hash = options.lineageHash ?? definitionHash(model)
      const merged =
        !options.fullRefresh &&
        existing === 'table' &&
        (await storedHash(trx, target)) === hash &&
        (await mergeBatch(trx, model, model.incremental))
      const rows = merged
        ? Number((await executeSql<{ rows: string }>(trx, `select count(*) as rows from ${target}`))[0]?.rows ?? 0)
        : await buildTable(trx, model, existing)
      await storedHash(trx, target)
      await storeHash(trx, target, hash)
      return { rows, mode: merged ? 'incremental' : 'full' }
    }
    // A view created as it is, with its descriptions, is left as it is (a view has no rows to
    // build): dbt would create it again, to the same view. One dropped meanwhile (a table below it
    // built whole drops its views) is created again, and so is one replaced behind the runner's
    // back: the view as PostgreSQL holds it goes into the hash.
    const hash = async (): Promise<string> => {
      const [row] = await executeSql<{ definition: string | null }>(
        trx,
        `select pg_get_viewdef(c.oid) as definition from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = $1 and c.relname = $2`,
        [target.schema, target.identifier],
      )
      return createHash('sha256')
        .update(JSON.stringify([viewHash(model), row?.definition ?? null]))
        .digest('hex')
    }
    const unchanged =
      !options.fullRefresh &&
      existing === 'view' &&
      model.postHooks.length === 0 &&
      (await storedHash(trx, target)) === (await hash())
    if (unchanged) return { rows: null, mode: null }
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
    for (const hook of model.postHooks) await executeSql(trx, hook)
    await storedHash(trx, target)
    await storeHash(trx, target, await hash())
    return { rows: null, mode: null }
  })
}
