-- Records that the API returned the window's unchanged deals: clears removed_from_source_at of a
-- deal that came back, and moves last_seen_at on when it is older than $2 (an interval). That
-- resolution keeps a re-read of unchanged data from rewriting every deal row each time.
-- Changed deals already got both from the upsert, so they are not looked up again (on a first
-- load that is every deal); a rejected record still counts as returned.
-- The deals are named as one array, so they are found by key: as a join, the planner could read
-- every deal of the site for each window whenever its statistics take the site for a few rows
-- (see stage_changed_records).
-- $1 site id, $2 resolution of last_seen_at.
update calltouch.orders o set last_seen_at = now(), removed_from_source_at = null
where o.site_id = $1::integer
  and o.order_number = any(array(
    select r.order_number from pg_temp.load_records r
    where not exists (select 1 from pg_temp.load_changes c where c.order_number = r.order_number and c.reason is null)
  ))
  and (o.removed_from_source_at is not null or o.last_seen_at < now() - $2::interval)
