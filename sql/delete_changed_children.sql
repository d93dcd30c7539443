-- Removes the sources, visits, custom values and tags of the window's changed deals that the
-- warehouse held before, so that the insert that follows replaces them: a tag or custom value
-- the deal no longer has goes away. New deals have none, so they are skipped.
-- $1 site id.
with changed as materialized (
  select c.order_number from pg_temp.load_changes c where c.reason is null and c.existed
),
sources as (
  delete from calltouch.sources t using changed c where t.site_id = $1::integer and t.order_number = c.order_number
),
visits as (
  delete from calltouch.visits t using changed c where t.site_id = $1::integer and t.order_number = c.order_number
),
custom_fields as (
  delete from calltouch.custom_fields t using changed c where t.site_id = $1::integer and t.order_number = c.order_number
),
tags as (
  delete from calltouch.tags t using changed c where t.site_id = $1::integer and t.order_number = c.order_number
)
select (select count(*) from changed)::integer as deals
