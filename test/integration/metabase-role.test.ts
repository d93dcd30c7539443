import { sql, type Kysely } from 'kysely'
import pg from 'pg'
import type PgBoss from 'pg-boss'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { silentLogger } from '../../pipelines/core/logger.ts'
import { openJobQueue } from '../../pipelines/jobs/distributed-queue.ts'
import { READ_JOB_QUEUE } from '../../pipelines/operate/distributed-jobs.ts'
import { executeSql, type Warehouse } from '../../pipelines/warehouse/connection.ts'
import type { WarehouseSchema } from '../../pipelines/warehouse/schema.ts'
import { migrateTo, migrateToLatest, migrateToNothing } from '../../pipelines/warehouse/migrator.ts'
import { withAdminClient } from '../helpers/postgres-server.ts'
import { createTestWarehouse, describeEachEngine, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const ROLE = 'calltouch_metabase'
const INSUFFICIENT_PRIVILEGE = '42501'
/** The migration before the role's: going down to it takes back every grant, the contact protection's included. */
const BEFORE_ROLE = '20261129094500_create_calltouch_date_parsers'
/** What the role holds at the latest migration: the marts' schema only (migration 20261207180000 took calltouch back). */
const LATEST_PRIVILEGES = { analytics_usage: true, calltouch_usage: false, orders_select: false, default_grants: 1 }

/**
 * Runs `work` on one connection as the Metabase role, and switches back even
 * when it fails: a pooled connection must not stay in the role.
 */
async function asMetabase<T>(warehouse: Warehouse, work: (db: Kysely<WarehouseSchema>) => Promise<T>): Promise<T> {
  return warehouse.db.connection().execute(async (connection) => {
    await sql.raw(`set role ${ROLE}`).execute(connection)
    try {
      return await work(connection)
    } finally {
      await sql.raw('reset role').execute(connection)
    }
  })
}

/** The SQLSTATE a statement fails with as the Metabase role, or 'ok'. */
async function sqlStateAsMetabase(warehouse: Warehouse, statement: string): Promise<string> {
  return asMetabase(warehouse, async (db) => {
    try {
      await executeSql(db, statement)
      return 'ok'
    } catch (error) {
      return String((error as { code?: unknown }).code)
    }
  })
}

async function roleExists(warehouse: Warehouse): Promise<boolean> {
  const rows = await executeSql<{ exists: boolean }>(
    warehouse.db,
    `select exists (select from pg_roles where rolname = '${ROLE}') as exists`,
  )
  return rows[0]!.exists
}

describeEachEngine('the Metabase role', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    await executeSql(
      tw.warehouse.db,
      `
      insert into calltouch.orders (site_id, order_number, status, completed_amount, payload_hash, first_seen_at, last_changed_at, last_seen_at)
      values (12345, 'A-1', 'final', 1500.50, 'h', now(), now(), now())`,
    )
    // Built after the migration, as dbt builds the marts: default privileges must cover it.
    await executeSql(
      tw.warehouse.db,
      `create table analytics.fct_after_migration as select 12345 as site_id, 1500.50::numeric(18, 2) as revenue`,
    )
    await executeSql(
      tw.warehouse.db,
      `create view analytics.v_after_migration as select site_id from analytics.fct_after_migration`,
    )
    // A calltouch table created later (calls, requests) and a staging view as the transform builds them.
    await executeSql(tw.warehouse.db, `create table calltouch.after_migration as select '79161234567' as phone`)
    await executeSql(tw.warehouse.db, `create schema if not exists analytics_staging`)
    await executeSql(
      tw.warehouse.db,
      `create view analytics_staging.stg_after_migration as select order_number from calltouch.orders`,
    )
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('is a role without login of its own', async () => {
    const rows = await executeSql<{
      rolcanlogin: boolean
      rolsuper: boolean
      rolcreatedb: boolean
      rolcreaterole: boolean
    }>(
      tw.warehouse.db,
      `select rolcanlogin, rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname = '${ROLE}'`,
    )
    expect(rows).toEqual([{ rolcanlogin: false, rolsuper: false, rolcreatedb: false, rolcreaterole: false }])
  })

  it('reads analytics tables and views built after the migration', async () => {
    const read = await asMetabase(tw.warehouse, async (db) => ({
      user: (await executeSql<{ current_user: string }>(db, 'select current_user'))[0],
      mart: await executeSql(db, 'select site_id, revenue from analytics.fct_after_migration'),
      view: await executeSql(db, 'select site_id from analytics.v_after_migration'),
    }))
    expect(read).toEqual({
      user: { current_user: ROLE },
      mart: [{ site_id: 12345, revenue: '1500.50' }],
      view: [{ site_id: 12345 }],
    })
  })

  it('cannot read the normalized calltouch tables, staging views, raw payloads, the pipeline bookkeeping or marketing inputs', async () => {
    const tables = [
      'calltouch.orders',
      'calltouch.sources',
      'calltouch.tags',
      'calltouch.visits',
      'calltouch.custom_fields',
      'calltouch.after_migration',
      'analytics_staging.stg_after_migration',
      'raw.calltouch_orders',
      'etl.runs',
      'etl.ledger',
      'etl.site_days',
      'etl.rejected_records',
      'etl.kysely_migration',
      'marketing.ad_spend',
    ]
    const states = []
    for (const table of tables)
      states.push([table, await sqlStateAsMetabase(tw.warehouse, `select * from ${table} limit 1`)])
    expect(states).toEqual(tables.map((table) => [table, INSUFFICIENT_PRIVILEGE]))
  })

  it('cannot insert, update, delete, truncate, create or drop anywhere', async () => {
    const statements = [
      `insert into calltouch.orders (site_id, order_number, payload_hash, first_seen_at, last_changed_at, last_seen_at) values (1, 'x', 'h', now(), now(), now())`,
      `update calltouch.orders set status = 'hacked'`,
      `delete from calltouch.orders`,
      `truncate calltouch.tags`,
      `insert into analytics.fct_after_migration values (1, 1)`,
      `update analytics.fct_after_migration set revenue = 0`,
      `delete from analytics.fct_after_migration`,
      `insert into marketing.ad_spend (site_id, spend_date, source, medium, campaign, cost, source_file) values (1, '2026-03-01', 'a', 'b', 'c', 1, 'f')`,
      `delete from raw.calltouch_orders`,
      `update etl.runs set status = 'failed'`,
      `create table analytics.mine (id int)`,
      `create table calltouch.mine (id int)`,
      `create table public.mine (id int)`,
      `create view analytics.mine as select 1 as one`,
      `create schema mine`,
      `drop table analytics.fct_after_migration`,
      `alter table calltouch.orders add column mine int`,
      `comment on table calltouch.orders is 'mine'`,
    ]
    const states = []
    for (const statement of statements) states.push([statement, await sqlStateAsMetabase(tw.warehouse, statement)])
    expect(states).toEqual(statements.map((statement) => [statement, INSUFFICIENT_PRIVILEGE]))
    const [unchanged] = await executeSql(
      tw.warehouse.db,
      `select (select count(*)::int from calltouch.orders where status = 'final') as orders, (select count(*)::int from analytics.fct_after_migration) as mart`,
    )
    expect(unchanged).toEqual({ orders: 1, mart: 1 })
  })
})

describeEachEngine('the Metabase role migration going down', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  async function privileges(): Promise<Record<string, unknown>> {
    const [row] = await executeSql<Record<string, unknown>>(
      tw.warehouse.db,
      `
      select has_schema_privilege('${ROLE}', 'analytics', 'USAGE') as analytics_usage,
        has_schema_privilege('${ROLE}', 'calltouch', 'USAGE') as calltouch_usage,
        has_table_privilege('${ROLE}', 'calltouch.orders', 'SELECT') as orders_select,
        (select count(*)::int from pg_default_acl where array_to_string(defaclacl, ',') like '%${ROLE}=%') as default_grants`,
    )
    return row!
  }

  it('gives calltouch back going down through the contact protection, as the role had before it', async () => {
    await migrateTo(tw.warehouse.db, '20261207150000_create_ad_campaign_stats')
    try {
      expect(await privileges()).toEqual({
        analytics_usage: true,
        calltouch_usage: true,
        orders_select: true,
        default_grants: 2,
      })
    } finally {
      await migrateToLatest(tw.warehouse.db)
    }
    expect(await privileges()).toEqual(LATEST_PRIVILEGES)
  })

  it('revokes what it granted in its database, and keeps the role while a login role is a member of it', async () => {
    expect(await privileges()).toEqual(LATEST_PRIVILEGES)
    await executeSql(tw.warehouse.db, `create role metabase_login_${engine} login`)
    await executeSql(tw.warehouse.db, `grant ${ROLE} to metabase_login_${engine}`)
    try {
      await migrateTo(tw.warehouse.db, BEFORE_ROLE)
      expect(await roleExists(tw.warehouse)).toBe(true)
      expect(await privileges()).toEqual({
        analytics_usage: false,
        calltouch_usage: false,
        orders_select: false,
        default_grants: 0,
      })
    } finally {
      await executeSql(tw.warehouse.db, `drop role metabase_login_${engine}`)
      await migrateToLatest(tw.warehouse.db)
    }
    expect(await privileges()).toEqual(LATEST_PRIVILEGES)
  })

  // A PGlite warehouse is a server of its own: nothing else can use the role there.
  if (engine === 'pglite') {
    it('drops the role when nothing else uses it, and creates it again going up', async () => {
      await migrateTo(tw.warehouse.db, BEFORE_ROLE)
      expect(await roleExists(tw.warehouse)).toBe(false)
      await migrateToLatest(tw.warehouse.db)
      expect(await roleExists(tw.warehouse)).toBe(true)
      expect(await privileges()).toEqual(LATEST_PRIVILEGES)
    })
  }
})

describePostgres('the Metabase role shared by two warehouses on one server', () => {
  it('survives one warehouse going down while the other still grants it reads', async () => {
    const [first, second] = await Promise.all([createTestWarehouse('postgres'), createTestWarehouse('postgres')])
    try {
      await executeSql(second.warehouse.db, `create table analytics.fct_kept as select 1 as one`)
      await migrateToNothing(first.warehouse.db)
      expect(await roleExists(first.warehouse)).toBe(true)
      const read = await asMetabase(second.warehouse, (db) => executeSql(db, 'select one from analytics.fct_kept'))
      expect(read).toEqual([{ one: 1 }])
      expect(await migrateToLatest(first.warehouse.db)).toEqual({
        applied: expect.arrayContaining(['20261129095500_create_metabase_role']),
      })
    } finally {
      await Promise.all([first.destroy(), second.destroy()])
    }
  })
})

/** pg-boss's own relations and functions in schema pgboss, a queue's partition of the jobs as `j<queue>`. */
const JOB_QUEUE_RELATIONS = ['archive', 'job', 'queue', 'schedule', 'subscription', 'version']
const JOB_QUEUE_FUNCTIONS = ['pgboss.create_queue(text,json)', 'pgboss.delete_queue(text)']

describePostgres('the Metabase role and the job queue (schema pgboss)', () => {
  // A login of the role's, as Metabase connects: over its own TCP connection, not SET ROLE.
  const login = `metabase_login_pgboss_${process.pid}`
  let tw: TestWarehouse
  let boss: PgBoss
  beforeAll(async () => {
    tw = await createTestWarehouse('postgres')
    boss = await openJobQueue({ connectionString: tw.env.DATABASE_URL as string, logger: silentLogger() })
    // What a read job carries: a run, a site, days; a failed one keeps its reason too.
    await boss.send(READ_JOB_QUEUE, { runId: '7', command: 'sync', part: 'deals', siteId: 4711, from: '2026-12-01' })
    await executeSql(tw.warehouse.db, `create role ${login} login`)
    await executeSql(tw.warehouse.db, `grant ${ROLE} to ${login}`)
  })
  afterAll(async () => {
    await boss?.stop({ graceful: false, wait: true })
    await tw?.destroy()
    // The login outlives the database (roles are the server's): dropped once nothing of it is left.
    await withAdminClient((client) => client.query(`drop role if exists ${login}`))
  })

  /** Every relation and function of schema pgboss, as the owner sees them. */
  async function jobQueueObjects(): Promise<{ relations: string[]; functions: string[] }> {
    const relations = await executeSql<{ name: string }>(
      tw.warehouse.db,
      `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'pgboss' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f') order by 1`,
    )
    const functions = await executeSql<{ name: string; args: number }>(
      tw.warehouse.db,
      `select p.oid::regprocedure::text as name, p.pronargs::int as args from pg_proc p
       join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'pgboss' order by 1`,
    )
    return { relations: relations.map((row) => row.name), functions: functions.map((row) => row.name) }
  }

  /** The SQLSTATE of each statement run by the login on a connection of its own, or 'ok'. */
  async function statesAsLogin(statements: readonly string[]): Promise<Record<string, string>> {
    const url = new URL(tw.env.DATABASE_URL as string)
    url.username = login
    const client = new pg.Client({ connectionString: url.toString() })
    await client.connect()
    try {
      const states: Record<string, string> = {}
      for (const statement of statements)
        states[statement] = await client.query(statement).then(
          () => 'ok',
          (error: unknown) => String((error as { code?: unknown }).code),
        )
      return states
    } finally {
      await client.end()
    }
  }

  /** A select from every relation and a call of every function of pgboss. */
  async function everyRead(): Promise<string[]> {
    const { relations, functions } = await jobQueueObjects()
    // Called with nulls: the check of the schema comes before any argument is looked at.
    const calls = functions.map(
      (name) => `select ${name.replace(/\(.*\)$/, '')}(${name.includes(',') ? 'null, null' : 'null'})`,
    )
    return [...relations.map((name) => `select * from pgboss.${JSON.stringify(name)} limit 1`), ...calls]
  }

  it('holds the jobs a read job carries, and the login cannot read a relation or call a function of pgboss', async () => {
    const jobs = await executeSql<{ site_id: number }>(
      tw.warehouse.db,
      `select (data ->> 'siteId')::int as site_id from pgboss.job`,
    )
    expect(jobs).toEqual([{ site_id: 4711 }])
    const { relations, functions } = await jobQueueObjects()
    expect(relations.map((name) => name.replace(/^j[0-9a-f]{56}$/, 'j<queue>')).sort()).toEqual(
      [...JOB_QUEUE_RELATIONS, 'j<queue>'].sort(),
    )
    expect(functions).toEqual(JOB_QUEUE_FUNCTIONS)
    const statements = await everyRead()
    expect(await statesAsLogin(['select current_user', ...statements])).toEqual({
      'select current_user': 'ok',
      ...Object.fromEntries(statements.map((statement) => [statement, INSUFFICIENT_PRIVILEGE])),
    })
  })

  it('still cannot after the migrations run again and a queue is created after them (default privileges)', async () => {
    await migrateTo(tw.warehouse.db, BEFORE_ROLE)
    await migrateToLatest(tw.warehouse.db)
    // A new queue is a new table of pgboss (its partition of the jobs), made after the grants.
    await boss.createQueue('metabase-probe')
    await boss.send('metabase-probe', { siteId: 4712, reason: 'site 4712 failed' })
    const { relations } = await jobQueueObjects()
    expect(relations.filter((name) => /^j[0-9a-f]{56}$/.test(name))).toHaveLength(2)
    const statements = await everyRead()
    expect(await statesAsLogin(statements)).toEqual(
      Object.fromEntries(statements.map((statement) => [statement, INSUFFICIENT_PRIVILEGE])),
    )
    const [privileges] = await executeSql<{ usage: boolean; tables: number }>(
      tw.warehouse.db,
      `select has_schema_privilege('${login}', 'pgboss', 'USAGE') as usage,
        (select count(*)::int from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'pgboss' and has_table_privilege('${login}', c.oid, 'SELECT')) as tables`,
    )
    expect(privileges).toEqual({ usage: false, tables: 0 })
  })
})
