-- Removes the sources, visits, custom values and tags of the window's changed deals that the
-- warehouse held before, so that the insert that follows replaces them: a tag or custom value
-- the deal no longer has goes away. New deals have none, so they are skipped.
-- The deals are named as one array, so each table is read by key: as a join, the planner could
-- read every row of the site whenever its statistics take the site for a few rows (see
-- stage_changed_records).
-- $1 site id.
with changed as materialized (
  select array(select c.order_number from pg_temp.load_changes c where c.reason is null and c.existed) as order_numbers
),
sources as (
  delete from calltouch.sources t using changed c where t.site_id = $1::integer and t.order_number = any(c.order_numbers)
),
visits as (
  delete from calltouch.visits t using changed c where t.site_id = $1::integer and t.order_number = any(c.order_numbers)
),
custom_fields as (
  delete from calltouch.custom_fields t using changed c where t.site_id = $1::integer and t.order_number = any(c.order_numbers)
),
tags as (
  delete from calltouch.tags t using changed c where t.site_id = $1::integer and t.order_number = any(c.order_numbers)
)
select cardinality(order_numbers) as deals from changed
