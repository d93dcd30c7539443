-- Writes the current state of every new or changed deal of the window into calltouch.orders.
-- Only changed deals reach this statement (comparing inside ON CONFLICT would still lock and log
-- every row); a deal the API returns again is no longer removed from the source.
-- Rows go in order_number order so that two windows loading side by side lock in the same order.
-- $1 site id. Returns the number of rows inserted or updated.
with upserted as (
  insert into calltouch.orders as o (
    site_id, order_number, order_id, order_date, order_day, created_date, completed_date, status, manager, service,
    order_origin, source_type, planned_amount, completed_amount, client_phones, client_fio, client_key,
    is_deleted, removed_from_source_at, payload_hash, first_seen_at, last_changed_at, last_seen_at
  )
  select $1::integer, c.order_number, c.order_id, c.order_date, c.order_day, c.created_date, c.completed_date,
    r.record ->> 'orderStatus', r.record ->> 'manager', r.record ->> 'service', r.record ->> 'orderOrigin',
    r.record -> 'orderSource' ->> 'type', c.planned_amount, c.completed_amount,
    r.record -> 'client' ->> 'phones', r.record -> 'client' ->> 'fio', r.client_key,
    coalesce(r.record -> 'isDeleted' = 'true'::jsonb, false),
    null, c.payload_hash, now(), now(), now()
  from pg_temp.load_changes c
  join pg_temp.load_records r on r.order_number = c.order_number
  where c.reason is null
  order by c.order_number
  on conflict (site_id, order_number) do update set
    order_id = excluded.order_id,
    order_date = excluded.order_date,
    order_day = excluded.order_day,
    created_date = excluded.created_date,
    completed_date = excluded.completed_date,
    status = excluded.status,
    manager = excluded.manager,
    service = excluded.service,
    order_origin = excluded.order_origin,
    source_type = excluded.source_type,
    planned_amount = excluded.planned_amount,
    completed_amount = excluded.completed_amount,
    client_phones = excluded.client_phones,
    client_fio = excluded.client_fio,
    client_key = excluded.client_key,
    is_deleted = excluded.is_deleted,
    removed_from_source_at = null,
    payload_hash = excluded.payload_hash,
    last_changed_at = excluded.last_changed_at,
    last_seen_at = excluded.last_seen_at
  returning 1
)
select count(*)::integer as changed from upserted
