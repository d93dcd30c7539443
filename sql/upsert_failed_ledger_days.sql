-- Records every day of a window that could not be read as failed, with the reason, counting the
-- attempt; the record count and last_succeeded_at of the last success stay for the planner.
-- $1 source, $2 account, $3 first day, $4 last day, $5 run id, $6 error (redacted, one line).
insert into etl.ledger as l (source, account, day, last_extracted_at, run_id, records, status, error, last_succeeded_at, attempts)
select $1::text, $2::text, $3::date + i, now(), $5::bigint, null, 'failed', $6::text, null, 1
from generate_series(0, $4::date - $3::date) as i
on conflict (source, account, day) do update set
  last_extracted_at = excluded.last_extracted_at,
  run_id = excluded.run_id,
  status = 'failed',
  error = excluded.error,
  attempts = l.attempts + 1
