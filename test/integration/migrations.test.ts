import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql, openWarehouse } from '../../pipelines/warehouse/connection.ts'
import { migrateTo, migrateToLatest, migrateToNothing, migrationStatus } from '../../pipelines/warehouse/migrator.ts'
import * as keyOrderMigration from '../../migrations/20261129170000_compare_order_numbers_bytewise.ts'
import * as hashKeyMigration from '../../migrations/20261207090000_key_long_tags_and_fields_by_md5.ts'
import { LONG_FIELD, LONG_TAG } from '../helpers/poison-records.ts'
import { createTestWarehouse, describeEachEngine, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const MIGRATIONS = [
  '20261129080000_create_etl_bookkeeping',
  '20261129080100_create_deal_tables',
  '20261129080200_create_ad_spend',
  '20261129094500_create_calltouch_date_parsers',
  '20261129095500_create_metabase_role',
  '20261129170000_compare_order_numbers_bytewise',
  '20261207090000_key_long_tags_and_fields_by_md5',
  '20261207130000_key_ledger_by_source_and_account',
  '20261207150000_create_ad_campaign_stats',
  '20261207180000_protect_client_contacts',
  '20261207190000_create_lead_tables',
]
const SCHEMAS = ['analytics', 'calltouch', 'etl', 'marketing', 'raw']
const PRODUCT_SCHEMAS_SQL = `('raw', 'calltouch', 'marketing', 'etl', 'analytics')`

async function tablesOf(tw: TestWarehouse): Promise<string[]> {
  const rows = await executeSql<{ name: string }>(
    tw.warehouse.db,
    `
    select table_schema || '.' || table_name as name from information_schema.tables
    where table_schema in ${PRODUCT_SCHEMAS_SQL} and table_name not like 'kysely_migration%'
    order by 1`,
  )
  return rows.map((row) => row.name)
}

describeEachEngine('migrations', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine, { migrate: false })
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('create the schemas and bookkeeping tables on an empty warehouse, and a second run changes nothing', async () => {
    expect(await migrateToLatest(tw.warehouse.db)).toEqual({ applied: MIGRATIONS })
    const schemas = await executeSql<{ nspname: string }>(
      tw.warehouse.db,
      `select nspname from pg_namespace where nspname in ${PRODUCT_SCHEMAS_SQL} order by 1`,
    )
    expect(schemas.map((row) => row.nspname)).toEqual(SCHEMAS)
    expect(await tablesOf(tw)).toEqual([
      'calltouch.call_tags',
      'calltouch.calls',
      'calltouch.custom_fields',
      'calltouch.orders',
      'calltouch.request_tags',
      'calltouch.requests',
      'calltouch.sources',
      'calltouch.tags',
      'calltouch.visits',
      'etl.contact_protection',
      'etl.ledger',
      'etl.rejected_records',
      'etl.runs',
      'etl.site_days',
      'marketing.ad_accounts',
      'marketing.ad_campaign_names',
      'marketing.ad_campaign_stats',
      'marketing.ad_spend',
      'raw.calltouch_calls',
      'raw.calltouch_orders',
      'raw.calltouch_requests',
    ])
    const runColumns = await executeSql<{ column_name: string }>(
      tw.warehouse.db,
      `
      select column_name from information_schema.columns where table_schema = 'etl' and table_name = 'runs' order by ordinal_position`,
    )
    expect(runColumns.map((row) => row.column_name)).toEqual([
      'run_id',
      'command',
      'arguments',
      'started_at',
      'finished_at',
      'status',
      'counters',
      'error',
      'pid',
      'hostname',
    ])
    const ledgerColumns = await executeSql<{ column_name: string }>(
      tw.warehouse.db,
      `
      select column_name from information_schema.columns where table_schema = 'etl' and table_name = 'ledger' order by ordinal_position`,
    )
    expect(ledgerColumns.map((row) => row.column_name)).toEqual([
      'source',
      'account',
      'day',
      'last_extracted_at',
      'run_id',
      'records',
      'status',
      'error',
      'last_succeeded_at',
      'attempts',
    ])

    expect(await migrateToLatest(tw.warehouse.db)).toEqual({ applied: [] })
    expect((await migrationStatus(tw.warehouse.db)).map((m) => [m.name, m.executedAt !== undefined])).toEqual(
      MIGRATIONS.map((name) => [name, true]),
    )
  })

  it('give every table and column a comment, which Metabase shows as its description', async () => {
    const uncommented = await executeSql<{ name: string }>(
      tw.warehouse.db,
      `
      select c.relname || coalesce('.' || a.attname, '') as name
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where n.nspname in ${PRODUCT_SCHEMAS_SQL} and c.relkind in ('r', 'v', 'm', 'p')
        and c.relname not like 'kysely_migration%'
        and (obj_description(c.oid, 'pg_class') is null or (a.attname is not null and col_description(c.oid, a.attnum) is null))
      order by 1`,
    )
    expect(uncommented).toEqual([])
  })

  it('go down to nothing and up again', async () => {
    expect(await migrateToNothing(tw.warehouse.db)).toEqual({ applied: [...MIGRATIONS].reverse() })
    expect(await tablesOf(tw)).toEqual([])
    expect(await migrateToLatest(tw.warehouse.db)).toEqual({ applied: MIGRATIONS })
    expect((await tablesOf(tw)).length).toBe(21)
  })
})

describePostgres('concurrent migrations', () => {
  it('apply each migration exactly once when two processes migrate at once', async () => {
    const tw = await createTestWarehouse('postgres', { migrate: false })
    const second = await openWarehouse(tw.config)
    try {
      const outcomes = await Promise.all([migrateToLatest(tw.warehouse.db), migrateToLatest(second.db)])
      expect(outcomes.flatMap((outcome) => outcome.applied).sort()).toEqual(MIGRATIONS)
    } finally {
      await second.close()
      await tw.destroy()
    }
  })
})

describeEachEngine('comparing order numbers bytewise (migration 20261129170000)', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  const KEY_TABLES = [
    'calltouch.custom_fields',
    'calltouch.orders',
    'calltouch.sources',
    'calltouch.tags',
    'calltouch.visits',
    'raw.calltouch_orders',
  ]
  /** The collation of each table's order_number column. */
  async function keyCollations(): Promise<string[]> {
    const rows = await executeSql<{ line: string }>(
      tw.warehouse.db,
      `
      select a.attrelid::regclass::text || ' ' || coalesce(l.collname, 'none') as line
      from pg_attribute a left join pg_collation l on l.oid = a.attcollation
      where a.attname = 'order_number' and a.attrelid::regclass::text = any($1)
      order by 1`,
      [KEY_TABLES],
    )
    return rows.map((row) => row.line)
  }
  /** What an analyst and the transform may have built on the key columns: definition, comments, grants and rows. */
  async function viewsState(): Promise<unknown[]> {
    return executeSql(
      tw.warehouse.db,
      `
      select c.relname, c.relkind, pg_get_viewdef(c.oid) as definition, obj_description(c.oid, 'pg_class') as description,
        col_description(c.oid, 1) as first_column, c.relacl::text as grants
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'analytics' and c.relname like 'keyed_%'
      order by c.relname`,
    )
  }

  it('keeps the views that read the keys, and the views built on those, with their comments and grants', async () => {
    const db = tw.warehouse.db
    expect(await keyCollations()).toEqual(KEY_TABLES.map((table) => `${table} C`))
    await keyOrderMigration.down(db)
    expect(await keyCollations()).toEqual(KEY_TABLES.map((table) => `${table} default`))

    await executeSql(
      db,
      `insert into calltouch.orders (site_id, order_number, status, payload_hash, first_seen_at, last_changed_at, last_seen_at)
      values (1, 'b-2', 'final', 'h', now(), now(), now()), (1, 'a-1', 'start', 'h', now(), now(), now())`,
    )
    await executeSql(
      db,
      `create view analytics.keyed_orders as select o.order_number, o.status, s.call_id from calltouch.orders o left join calltouch.sources s using (site_id, order_number)`,
    )
    await executeSql(
      db,
      `create view analytics.keyed_statuses as select status, count(*) as deals from analytics.keyed_orders group by status`,
    )
    await executeSql(
      db,
      `create materialized view analytics.keyed_snapshot as select order_number from analytics.keyed_orders`,
    )
    await executeSql(db, `comment on view analytics.keyed_orders is 'Deals with their call'`)
    await executeSql(db, `comment on column analytics.keyed_orders.order_number is 'Deal id'`)
    await executeSql(db, `grant select on analytics.keyed_statuses to public`)
    const before = await viewsState()
    expect(before.map((view) => (view as { relname: string }).relname)).toEqual([
      'keyed_orders',
      'keyed_snapshot',
      'keyed_statuses',
    ])

    await keyOrderMigration.up(db)
    expect(await keyCollations()).toEqual(KEY_TABLES.map((table) => `${table} C`))
    expect(await viewsState()).toEqual(before)
    expect(await executeSql(db, `select order_number from analytics.keyed_snapshot order by order_number`)).toEqual([
      { order_number: 'a-1' },
      { order_number: 'b-2' },
    ])
    // A key column of the "C" collation still compares with text of the default collation.
    expect(
      await executeSql(
        db,
        `select count(*)::integer as n from calltouch.orders o join (values ('a-1'::text collate "default")) v(k) on v.k = o.order_number`,
      ),
    ).toEqual([{ n: 1 }])
  })
})

describeEachEngine('keying long tags and custom field names by their md5 (migration 20261207090000)', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  /** The unique keys of tags and custom_fields, as PostgreSQL defines them. */
  async function keys(): Promise<string[]> {
    const rows = await executeSql<{ line: string }>(
      tw.warehouse.db,
      `
      select i.indrelid::regclass::text || ' ' || pg_get_indexdef(i.indexrelid) as line from pg_index i
      where i.indrelid in ('calltouch.tags'::regclass, 'calltouch.custom_fields'::regclass) and i.indisunique order by 1`,
    )
    return rows.map((row) =>
      row.line
        .replace(/ USING btree/, '')
        .replace(/\s+/g, ' ')
        .replace(/\( /g, '('),
    )
  }
  /** Every row of the two tables and of a view an analyst built on them. */
  async function contents(): Promise<unknown[]> {
    return executeSql(
      tw.warehouse.db,
      `
      select 'tag' as kind, order_number, tag as text, null as value from calltouch.tags
      union all select 'field', order_number, field, value::text from calltouch.custom_fields
      union all select 'view', order_number, tag, null from analytics.tagged_deals
      order by 1, 2, 3`,
    )
  }
  const insertLong = (): Promise<unknown> =>
    tw.warehouse.db.transaction().execute(async (trx) => {
      await executeSql(trx, `insert into calltouch.tags (site_id, order_number, tag) values (1, 'D-2', $1)`, [LONG_TAG])
      await executeSql(
        trx,
        `insert into calltouch.custom_fields (site_id, order_number, field, value) values (1, 'D-2', $1, 5)`,
        [LONG_FIELD],
      )
    })

  it('keys rows of any length, keeps every row and the views on them, and still refuses a repeated tag or field', async () => {
    const db = tw.warehouse.db
    await hashKeyMigration.down(db)
    expect(await keys()).toEqual([
      'calltouch.custom_fields CREATE UNIQUE INDEX custom_fields_pkey ON calltouch.custom_fields (site_id, order_number, field)',
      'calltouch.tags CREATE UNIQUE INDEX tags_pkey ON calltouch.tags (site_id, order_number, tag)',
    ])
    await executeSql(
      db,
      `insert into calltouch.tags (site_id, order_number, tag) values (1, 'D-1', 'vip'), (1, 'D-1', 'a;b'), (2, 'D-1', 'vip')`,
    )
    await executeSql(
      db,
      `insert into calltouch.custom_fields (site_id, order_number, field, value) values (1, 'D-1', 'cost', 99999999999999999999999999999999999999)`,
    )
    await executeSql(
      db,
      `create view analytics.tagged_deals as select order_number, tag from calltouch.tags where site_id = 1`,
    )
    // What failed a window of issue 14: the text itself was the key.
    await expect(insertLong()).rejects.toThrow(
      /index row size \d+ exceeds btree version 4 maximum 2704 for index "tags_pkey"/,
    )
    const before = await contents()

    await hashKeyMigration.up(db)
    expect(await keys()).toEqual([
      'calltouch.custom_fields CREATE UNIQUE INDEX custom_fields_deal_field_key ON calltouch.custom_fields (site_id, order_number, (CASE WHEN (octet_length(field) <= 256) THEN field ELSE md5(field) END) COLLATE "C")',
      'calltouch.tags CREATE UNIQUE INDEX tags_deal_tag_key ON calltouch.tags (site_id, order_number, (CASE WHEN (octet_length(tag) <= 256) THEN tag ELSE md5(tag) END) COLLATE "C")',
    ])
    expect(await contents()).toEqual(before)
    await insertLong()
    expect(
      await executeSql(
        db,
        `select tag, octet_length(tag) as bytes from analytics.tagged_deals where order_number = 'D-2'`,
      ),
    ).toEqual([{ tag: LONG_TAG, bytes: 5160 }])
    await expect(
      executeSql(db, `insert into calltouch.tags (site_id, order_number, tag) values (1, 'D-1', 'vip')`),
    ).rejects.toThrow(/duplicate key value violates unique constraint "tags_deal_tag_key"/)
    await expect(
      executeSql(
        db,
        `insert into calltouch.custom_fields (site_id, order_number, field, value) values (1, 'D-2', $1, 6)`,
        [LONG_FIELD],
      ),
    ).rejects.toThrow(/duplicate key value violates unique constraint "custom_fields_deal_field_key"/)

    // Down cannot put a long tag back into a key of the text, and says what to do; the migrator
    // runs it in a transaction, so nothing changes.
    const hashedKeys = await keys()
    await expect(db.transaction().execute((trx) => hashKeyMigration.down(trx))).rejects.toThrow(
      /calltouch.tags holds a tag too long for the key it had before migration 20261207090000: index row size \d+ exceeds btree version 4 maximum 2704/,
    )
    expect(await keys()).toEqual(hashedKeys)
    await executeSql(db, `delete from calltouch.tags where order_number = 'D-2'`)
    await executeSql(db, `delete from calltouch.custom_fields where order_number = 'D-2'`)
    await db.transaction().execute((trx) => hashKeyMigration.down(trx))
    expect(await keys()).toEqual([
      'calltouch.custom_fields CREATE UNIQUE INDEX custom_fields_pkey ON calltouch.custom_fields (site_id, order_number, field)',
      'calltouch.tags CREATE UNIQUE INDEX tags_pkey ON calltouch.tags (site_id, order_number, tag)',
    ])
    expect(await contents()).toEqual(before)
  })
})

describeEachEngine('keying the ledger by source and account (migration 20261207130000)', (engine) => {
  const BEFORE = '20261207090000_key_long_tags_and_fields_by_md5'
  const LEDGER_MIGRATION = '20261207130000_key_ledger_by_source_and_account'
  /** Going down to BEFORE reverts the later migrations first; going up applies them after it. */
  const LATER = MIGRATIONS.slice(MIGRATIONS.indexOf(LEDGER_MIGRATION) + 1)
  const DOWN = { applied: [...LATER].reverse().concat(LEDGER_MIGRATION) }
  const UP = { applied: [LEDGER_MIGRATION, ...LATER] }
  const COLUMNS = 'day::text as day, last_extracted_at, run_id, records, status, error, last_succeeded_at, attempts'
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  /** What etl.site_days is: a table before the migration, a view after it. */
  const kindOfSiteDays = async (): Promise<unknown[]> =>
    executeSql(tw.warehouse.db, `select relkind::text as kind from pg_class where oid = to_regclass('etl.site_days')`)
  const siteDays = async (): Promise<unknown[]> =>
    executeSql(tw.warehouse.db, `select site_id, ${COLUMNS} from etl.site_days order by site_id, day`)
  /** The descriptions of etl.site_days and its columns, which Metabase and psql show. */
  const siteDaysComments = async (): Promise<unknown[]> =>
    executeSql(
      tw.warehouse.db,
      `
    select a.attname as column, col_description(a.attrelid, a.attnum) as comment from pg_attribute a
    where a.attrelid = 'etl.site_days'::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum`,
    )

  it('keeps every row of the deals ledger, down and up again, and etl.site_days reads as before', async () => {
    const db = tw.warehouse.db
    expect(await migrateTo(db, BEFORE)).toEqual(DOWN)
    expect(await kindOfSiteDays()).toEqual([{ kind: 'r' }])
    // What the previous release leaves: sites from the smallest to the largest id, ok and failed
    // days, a day never read completely, a day failed three times since its last success.
    await executeSql(
      db,
      `insert into etl.site_days (site_id, day, last_extracted_at, run_id, records, status, error, last_succeeded_at, attempts) values
      (1, '2026-11-01', '2026-11-02T03:00:00Z', 7, 12, 'ok', null, '2026-11-02T03:00:00Z', 1),
      (12345, '2026-11-01', '2026-11-02T03:00:00Z', 7, 0, 'ok', null, '2026-11-02T03:00:00Z', 1),
      (12345, '2026-11-02', '2026-11-03T03:00:00Z', 8, 40, 'failed', 'HTTP 503 from Calltouch', '2026-11-02T03:00:00Z', 3),
      (12345, '2026-11-03', '2026-11-03T03:00:00Z', 8, null, 'failed', 'timed out after 30000 ms', null, 1),
      (2147483647, '2026-12-31', '2027-01-01T00:00:00Z', 9000000000, 5000, 'ok', null, '2027-01-01T00:00:00Z', 1)`,
    )
    const before = await siteDays()
    expect(before).toHaveLength(5)
    const comments = await siteDaysComments()

    expect(await migrateToLatest(db)).toEqual(UP)
    expect(
      await executeSql(
        db,
        `select source, account::integer as site_id, ${COLUMNS} from etl.ledger order by site_id, day`,
      ),
    ).toEqual(before.map((row) => ({ source: 'calltouch-deals', ...(row as object) })))
    expect(await kindOfSiteDays()).toEqual([{ kind: 'v' }])
    expect(await siteDays()).toEqual(before)
    expect(await siteDaysComments()).toEqual(comments)

    // Another source's account of any shape sits beside the deals, out of the view; a site id
    // that is not an integer is refused.
    await executeSql(
      db,
      `insert into etl.ledger (source, account, day, last_extracted_at, run_id, records, status)
      values ('yandex-direct', 'shop-login', '2026-11-01', now(), 10, 3, 'ok')`,
    )
    expect(await siteDays()).toEqual(before)
    expect(await executeSql(db, `select count(*)::integer as days from etl.site_days where site_id = 12345`)).toEqual([
      { days: 3 },
    ])
    await expect(
      executeSql(
        db,
        `insert into etl.ledger (source, account, day, last_extracted_at, run_id, status)
      values ('calltouch-deals', 'shop-login', '2026-11-01', now(), 10, 'ok')`,
      ),
    ).rejects.toThrow(/violates check constraint "ledger_site_id_check"/)

    // Down cannot put another source's days into etl.site_days, and says what to do; nothing changes.
    await expect(migrateTo(db, BEFORE)).rejects.toThrow(
      `could not migrate the warehouse at ${LEDGER_MIGRATION}: etl.ledger holds days of yandex-direct, which etl.site_days before migration 20261207130000 cannot hold: delete them (delete from etl.ledger where source <> 'calltouch-deals') to go back`,
    )
    expect(await kindOfSiteDays()).toEqual([{ kind: 'v' }])
    await executeSql(db, `delete from etl.ledger where source <> 'calltouch-deals'`)
    expect(await migrateTo(db, BEFORE)).toEqual(DOWN)
    expect(await kindOfSiteDays()).toEqual([{ kind: 'r' }])
    expect(await siteDays()).toEqual(before)
    expect(await siteDaysComments()).toEqual(comments)
    expect(await executeSql(db, `select to_regclass('etl.ledger') as ledger`)).toEqual([{ ledger: null }])
    expect(await migrateToLatest(db)).toEqual(UP)
    expect(await siteDays()).toEqual(before)
  })

  it('stops before changing anything when a view of the user reads etl.site_days, naming it', async () => {
    const db = tw.warehouse.db
    await migrateTo(db, BEFORE)
    const before = await siteDays()
    await executeSql(
      db,
      `create view analytics.failed_site_days as select site_id, day from etl.site_days where status = 'failed'`,
    )
    await expect(migrateToLatest(db)).rejects.toThrow(
      `could not migrate the warehouse at ${LEDGER_MIGRATION}: etl.site_days becomes etl.ledger, and these views read it: analytics.failed_site_days. Save their definitions, drop them, run calltouch-etl migrate again, then create them again: etl.site_days remains as a view with the same columns`,
    )
    expect(await kindOfSiteDays()).toEqual([{ kind: 'r' }])
    expect(await siteDays()).toEqual(before)
    await executeSql(db, `drop view analytics.failed_site_days`)
    expect(await migrateToLatest(db)).toEqual(UP)
    await executeSql(
      db,
      `create view analytics.failed_site_days as select site_id, day from etl.site_days where status = 'failed'`,
    )
    expect(
      await executeSql(db, `select site_id, day::text as day from analytics.failed_site_days order by day`),
    ).toEqual([
      { site_id: 12345, day: '2026-11-02' },
      { site_id: 12345, day: '2026-11-03' },
    ])
  })
})
