-- Sends the window's records that PostgreSQL refused (set aside by set_aside_staged_record) to
-- etl.rejected_records with PostgreSQL's reason and the record's text. As insert_rejected_records:
-- a record already rejected for the same reason is not written again. Returns how many were set aside.
-- $1 site id, $2 run id, $3 first day, $4 last day, $5 the payload_hash of a record set aside.
with set_aside as (
  select r.record ->> 'orderNumber' as order_number, r.record ->> 'reason' as reason, r.record ->> 'text' as record
  from pg_temp.load_records r
  where r.payload_hash = $5::text
),
inserted as (
  insert into etl.rejected_records (run_id, site_id, order_number, day_from, day_to, reason, record)
  select $2::bigint, $1::integer, s.order_number, $3::date, $4::date, s.reason, s.record
  from set_aside s
  where not exists (
    select 1 from etl.rejected_records e
    where e.site_id = $1::integer and e.order_number is not distinct from s.order_number
      and e.reason = s.reason and e.record = s.record
  )
  returning 1
)
select count(*)::integer as rejected from set_aside
