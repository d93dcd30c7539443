import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go into new migrations.
//
// Tags and custom field names are free text of any length, and a b-tree index entry holds at
// most 2,704 bytes (a third of a page, https://www.postgresql.org/docs/current/btree.html#BTREE-IMPLEMENTATION):
// a deal with a 3,000-character tag failed its whole window ("index row size 5160 exceeds btree
// version 4 maximum 2704"). Their keys now hold a text longer than HASHED_FROM_BYTES as its md5
// instead, so a row of any length is keyed, and the usual short text as itself (hashing every row
// made its insert about twice as dear: bench/RESULTS.md, issue 14). A primary key cannot be on an
// expression, so each key becomes a unique index. The columns and what they hold do not change, so
// the views that read them (the dbt staging views, an analyst's own) are left as they are, and the
// load's statements write the same rows (they insert without ON CONFLICT). The key compares bytes
// (collation "C"), as the deal keys do since migration 20261129170000.
//
// Two texts count as the same tag of a deal only when they are equal, or when both are long and
// have the same md5, or one is short and equals the other's md5 (32 hex digits): never by chance.
// Such a deal is refused as a repeat, and the load sets it aside (load-isolation.ts) rather than
// failing its window.

/** Texts of more bytes than this are keyed by their md5: far below the b-tree limit, whatever the deal key. */
const HASHED_FROM_BYTES = 256

const KEYS = [
  { table: 'calltouch.tags', constraint: 'tags_pkey', index: 'tags_deal_tag_key', column: 'tag', what: 'tag' },
  {
    table: 'calltouch.custom_fields',
    constraint: 'custom_fields_pkey',
    index: 'custom_fields_deal_field_key',
    column: 'field',
    what: 'custom field name',
  },
] as const

export async function up(db: Kysely<any>): Promise<void> {
  for (const { table, constraint, index, column, what } of KEYS) {
    await sql.raw(`alter table ${table} drop constraint ${constraint}`).execute(db)
    const key = `case when octet_length(${column}) <= ${HASHED_FROM_BYTES} then ${column} else md5(${column}) end`
    await sql.raw(`create unique index ${index} on ${table} (site_id, order_number, (${key}) collate "C")`).execute(db)
    await sql
      .raw(
        `comment on index calltouch.${index} is 'One row per deal and ${what}; a ${what} of more than ${HASHED_FROM_BYTES} bytes is keyed by its md5, so that one of any length can be stored'`,
      )
      .execute(db)
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const { table, constraint, index, column, what } of KEYS) {
    await sql.raw(`drop index calltouch.${index}`).execute(db)
    // The old key holds the text itself: a long one cannot go back into it.
    await sql
      .raw(
        `
do $down$
begin
  alter table ${table} add constraint ${constraint} primary key (site_id, order_number, ${column});
exception when program_limit_exceeded then
  raise exception '${table} holds a ${what} too long for the key it had before migration 20261207090000: %', sqlerrm
    using hint = 'delete or shorten the rows of ${table} whose ${column} is longer than about 2,700 bytes, then migrate down again';
end
$down$`,
      )
      .execute(db)
  }
}
