-- Records every day of a window that loaded in the ledger: status ok, the day's record count,
-- attempts back to 1; in the same transaction as the window's data (data before state).
-- $1 site id, $2 first day, $3 last day, $4 run id. Returns each day with its count.
with days as (
  select $2::date + i as day from generate_series(0, $3::date - $2::date) as i
),
counts as (
  select r.record_day, count(*)::integer as records from pg_temp.load_records r group by r.record_day
)
insert into etl.site_days as s (site_id, day, last_extracted_at, run_id, records, status, error, last_succeeded_at, attempts)
select $1::integer, d.day, now(), $4::bigint, coalesce(c.records, 0), 'ok', null, now(), 1
from days d
left join counts c on c.record_day = to_char(d.day, 'YYYY-MM-DD')
on conflict (site_id, day) do update set
  last_extracted_at = excluded.last_extracted_at,
  run_id = excluded.run_id,
  records = excluded.records,
  status = 'ok',
  error = null,
  last_succeeded_at = excluded.last_succeeded_at,
  attempts = 1
returning to_char(s.day, 'YYYY-MM-DD') as day, s.records
