-- Sends the staged leads that cannot be loaded to etl.rejected_records with their reason and
-- source, and their text (a record PostgreSQL refused is kept as record_text, as received); a
-- record already rejected for the same reason is not written again, so the nightly re-read of the
-- look-back days does not grow the table. Returns the read's rejected count.
-- $1 source ('calltouch-calls' or 'calltouch-requests'), $2 site id, $3 run id, $4 first day, $5 last day.
with rejected as (
  select distinct r.lead_id, r.reason, coalesce(r.record_text, r.record::text) as record
  from pg_temp.lead_records r
  where r.reason is not null
),
inserted as (
  insert into etl.rejected_records (run_id, site_id, source, order_number, day_from, day_to, reason, record)
  select $3::bigint, $2::integer, $1::text, r.lead_id, $4::date, $5::date, r.reason, r.record
  from rejected r
  where not exists (
    select 1 from etl.rejected_records e
    where e.site_id = $2::integer and e.source = $1::text and e.order_number is not distinct from r.lead_id
      and e.reason = r.reason and e.record = r.record
  )
  returning 1
)
select count(*)::integer as rejected from rejected
