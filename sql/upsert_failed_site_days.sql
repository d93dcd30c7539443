-- Records every day of a window that could not be read as failed, with the reason, counting the
-- attempt; the record count and last_succeeded_at of the last success stay for the planner.
-- $1 site id, $2 first day, $3 last day, $4 run id, $5 error (redacted, one line).
insert into etl.site_days as s (site_id, day, last_extracted_at, run_id, records, status, error, last_succeeded_at, attempts)
select $1::integer, $2::date + i, now(), $4::bigint, null, 'failed', $5::text, null, 1
from generate_series(0, $3::date - $2::date) as i
on conflict (site_id, day) do update set
  last_extracted_at = excluded.last_extracted_at,
  run_id = excluded.run_id,
  status = 'failed',
  error = excluded.error,
  attempts = s.attempts + 1
