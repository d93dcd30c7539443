import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go into new migrations.
//
// The load path converts Calltouch's dd/mm/yyyy texts in set-based statements,
// where one `to_date('31/02/2026', ...)` would abort the whole window. These
// functions return null instead of failing, so a bad record can be routed to
// etl.rejected_records and the rest of the window still loads.
//
// They run for every new or changed deal, five times a deal, so they are built
// for speed (measured: ~2 µs a call, where regex plus arithmetic on every part
// took ~8 µs): plain SQL expressions (immutable, one SELECT) that the planner
// inlines, so no text::date or text::time cast (their input functions are only
// stable, which stops inlining); one regex for the shape and field ranges; then
// the few impossible days (31/04, 30/02, 29/02 of a common year, ...) by text.
// A nested CASE (not AND) guards every cast: AND gives no evaluation order.

const DATE_PATTERN = '(0[1-9]|[12][0-9]|3[01])/(0[1-9]|1[0-2])/[0-9]{4}'
const TIME_PATTERN = '([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]'

/** True when the day and month of a text that matched DATE_PATTERN exist in its year. */
const REAL_DAY = `left(value, 5) not in ('30/02', '31/02', '31/04', '31/06', '31/09', '31/11')
          and substr(value, 7, 4) <> '0000'
          and (left(value, 5) <> '29/02' or (substr(value, 7, 4)::int % 4 = 0 and (substr(value, 7, 4)::int % 100 <> 0 or substr(value, 7, 4)::int % 400 = 0)))`

const UP = [
  `create function etl.parse_calltouch_date(value text) returns date
    language sql immutable parallel safe
    as $$
      select case when value ~ '^${DATE_PATTERN}$' then
        case when ${REAL_DAY}
        then make_date(substr(value, 7, 4)::int, substr(value, 4, 2)::int, substr(value, 1, 2)::int)
        end
      end
    $$`,
  `comment on function etl.parse_calltouch_date(text) is 'A Calltouch date DD/MM/YYYY as a date; null (never an error) when it is not a real date, so one bad record cannot abort a set-based load'`,
  `create function etl.parse_calltouch_timestamp(value text) returns timestamp
    language sql immutable parallel safe
    as $$
      select case when value ~ '^${DATE_PATTERN} ${TIME_PATTERN}$' then
        case when ${REAL_DAY}
        then make_timestamp(substr(value, 7, 4)::int, substr(value, 4, 2)::int, substr(value, 1, 2)::int,
          substr(value, 12, 2)::int, substr(value, 15, 2)::int, substr(value, 18, 2)::int)
        end
      end
    $$`,
  `comment on function etl.parse_calltouch_timestamp(text) is 'A Calltouch date and time DD/MM/YYYY HH:MM:SS (24-hour, site-local) as a timestamp without zone; null (never an error) when it is not a real one'`,
]

const DOWN = [
  `drop function if exists etl.parse_calltouch_timestamp(text)`,
  `drop function if exists etl.parse_calltouch_date(text)`,
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of UP) await sql.raw(statement).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const statement of DOWN) await sql.raw(statement).execute(db)
}
