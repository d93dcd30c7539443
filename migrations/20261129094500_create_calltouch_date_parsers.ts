import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go into new migrations.
//
// The load path converts Calltouch's dd/mm/yyyy texts in set-based statements,
// where one `to_date('31/02/2026', ...)` would abort the whole window. These
// functions return null instead of failing, so a bad record can be routed to
// etl.rejected_records and the rest of the window still loads. They are plain
// SQL expressions (immutable, one SELECT) so the planner inlines them: no
// function-call cost per record. Nested CASEs (not AND) guard every cast,
// because AND gives no evaluation order and constant folding would run a cast
// of a literal argument at plan time.

const DAYS_IN_MONTH = `case substr(value, 4, 2)
            when '02' then 28 + (substr(value, 7, 4)::int % 4 = 0 and (substr(value, 7, 4)::int % 100 <> 0 or substr(value, 7, 4)::int % 400 = 0))::int
            when '04' then 30 when '06' then 30 when '09' then 30 when '11' then 30
            else 31
          end`

const UP = [
  `create function etl.parse_calltouch_date(value text) returns date
    language sql immutable parallel safe
    as $$
      select case when value ~ '^[0-9]{2}/[0-9]{2}/[0-9]{4}$' then
        case when substr(value, 4, 2)::int between 1 and 12
          and substr(value, 7, 4)::int >= 1
          and substr(value, 1, 2)::int between 1 and ${DAYS_IN_MONTH}
        then make_date(substr(value, 7, 4)::int, substr(value, 4, 2)::int, substr(value, 1, 2)::int)
        end
      end
    $$`,
  `comment on function etl.parse_calltouch_date(text) is 'A Calltouch date DD/MM/YYYY as a date; null (never an error) when it is not a real date, so one bad record cannot abort a set-based load'`,
  `create function etl.parse_calltouch_timestamp(value text) returns timestamp
    language sql immutable parallel safe
    as $$
      select case when value ~ '^[0-9]{2}/[0-9]{2}/[0-9]{4} ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$'
        then etl.parse_calltouch_date(left(value, 10)) + substr(value, 12, 8)::time
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
