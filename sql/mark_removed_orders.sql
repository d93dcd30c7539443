-- Marks the deals the warehouse holds for the window's days that the API no longer returned
-- (the window was read completely). Rejected records count as returned: a deal is not removed
-- because its new version could not be loaded. Kept, not deleted: dashboards must be explainable.
-- $1 site id, $2 first day, $3 last day. Returns the number of deals newly marked.
with removed as (
  update calltouch.orders o set removed_from_source_at = now()
  where o.site_id = $1::integer and o.order_day between $2::date and $3::date and o.removed_from_source_at is null
    and not exists (select 1 from pg_temp.load_records r where r.order_number = o.order_number)
  returning 1
)
select count(*)::integer as removed from removed
