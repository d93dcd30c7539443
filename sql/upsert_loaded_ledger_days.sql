-- Records every day of a window that loaded in the ledger: status ok, the day's record count,
-- attempts back to 1; in the same transaction as the window's data (data before state).
-- $1 source, $2 account, $3 first day, $4 last day, $5 run id, $6 days with records (text[],
-- YYYY-MM-DD: a day outside the window, or text that is no date, counts nowhere), $7 their record
-- counts (integer[], same order); a day of the window not in $6 held none.
-- Returns each day of the window with its count.
with days as (
  select $3::date + i as day from generate_series(0, $4::date - $3::date) as i
),
counts as (
  select c.day, c.records from unnest($6::text[], $7::integer[]) as c (day, records)
)
insert into etl.ledger as l (source, account, day, last_extracted_at, run_id, records, status, error, last_succeeded_at, attempts)
select $1::text, $2::text, d.day, now(), $5::bigint, coalesce(c.records, 0), 'ok', null, now(), 1
from days d
left join counts c on c.day = to_char(d.day, 'YYYY-MM-DD')
on conflict (source, account, day) do update set
  last_extracted_at = excluded.last_extracted_at,
  run_id = excluded.run_id,
  records = excluded.records,
  status = 'ok',
  error = null,
  last_succeeded_at = excluded.last_succeeded_at,
  attempts = 1
returning to_char(l.day, 'YYYY-MM-DD') as day, l.records
