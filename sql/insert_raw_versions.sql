-- Lands every new or changed deal of the window as a new version in raw.calltouch_orders:
-- unchanged deals were left out when staging, so the table holds each distinct version once.
-- $1 site id, $2 run id. Returns the number of versions landed.
with landed as (
  insert into raw.calltouch_orders (site_id, order_number, payload, payload_hash, run_id)
  select $1::integer, c.order_number, r.record, c.payload_hash, $2::bigint
  from pg_temp.load_changes c
  join pg_temp.load_records r on r.order_number = c.order_number
  where c.reason is null
  order by c.order_number
  returning 1
)
select count(*)::integer as landed from landed
