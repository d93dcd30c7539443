-- Sends the window's records that cannot be loaded to etl.rejected_records, with their reason.
-- A record already rejected for the same reason is not written again, so re-reading a window
-- (every night, for the look-back days) does not grow the table. Returns the window's rejected count.
-- $1 site id, $2 run id, $3 first day, $4 last day.
with rejected as (
  select c.order_number, c.reason, c.record::text as record
  from pg_temp.load_changes c
  where c.reason is not null
),
inserted as (
  insert into etl.rejected_records (run_id, site_id, order_number, day_from, day_to, reason, record)
  select $2::bigint, $1::integer, r.order_number, $3::date, $4::date, r.reason, r.record
  from rejected r
  where not exists (
    select 1 from etl.rejected_records e
    where e.site_id = $1::integer and e.order_number is not distinct from r.order_number
      and e.reason = r.reason and e.record = r.record
  )
  returning 1
)
select count(*)::integer as rejected from rejected
