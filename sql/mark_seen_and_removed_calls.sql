-- Records what a complete read of the staged days returned, as mark_removed_orders and
-- mark_seen_orders do for deals: a call the warehouse holds for those days that the API no longer
-- returned is marked removed (kept, not deleted: dashboards must be explainable); a returned call
-- that was marked comes back, and last_seen_at of an unchanged call moves on when older than $4. A
-- rejected record with a readable id counts as returned. Changed calls got both from write_changed_calls.
-- NOT IN over the read's ids (never null) is a hashed subplan: the anti-join `not exists` became a
-- nested loop over the unanalyzed staging rows, quadratic in the read (1.2 s for 3,000 calls,
-- bench:leads-requests). An unchanged call keeps its day (the day comes from its payload), so
-- the seen update looks at the read's days only, not the site's whole history.
-- $1 site id, $2 first day, $3 last day, $4 resolution of last_seen_at (an interval). Returns how many were newly marked.
with returned as (
  select r.lead_id::bigint as call_id from pg_temp.lead_records r where r.lead_id ~ '^[0-9]{1,18}$'
),
removed as (
  update calltouch.calls t set removed_from_source_at = now()
  where t.site_id = $1::integer and t.call_day between $2::date and $3::date and t.removed_from_source_at is null
    and t.call_id not in (select r.call_id from returned r)
  returning 1
),
seen as (
  update calltouch.calls t set last_seen_at = now(), removed_from_source_at = null
  where t.site_id = $1::integer and t.call_day between $2::date and $3::date
    and t.call_id in (select r.call_id from returned r)
    and (t.removed_from_source_at is not null or t.last_seen_at < now() - $4::interval)
  returning 1
)
select (select count(*) from removed)::integer as removed
