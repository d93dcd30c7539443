-- Writes the sources, visits, custom values and tags of the window's new and changed deals
-- (their old ones were just deleted). No visit, no orderSource or tags null: no row.
-- Custom values go from JSON text straight to numeric(38,0): exact to the last digit.
-- $1 site id.
with changed as materialized (
  select c.order_number, r.record, c.call_id, c.duration_seconds, c.call_time, c.visit_time
  from pg_temp.load_changes c
  join pg_temp.load_records r on r.order_number = c.order_number
  where c.reason is null
),
sources as (
  insert into calltouch.sources (site_id, order_number, source_type, call_id, duration_seconds, phone_number, caller_phone, call_time, request_number)
  select $1::integer, c.order_number, c.record -> 'orderSource' ->> 'type', c.call_id, c.duration_seconds,
    c.record -> 'orderSource' ->> 'phoneNumber', c.record -> 'orderSource' ->> 'ani', c.call_time,
    c.record -> 'orderSource' ->> 'requestNumber'
  from changed c
  where jsonb_typeof(c.record -> 'orderSource') = 'object'
),
visits as (
  insert into calltouch.visits (site_id, order_number, visit_time, source, medium, keyword, utm_source, utm_medium, utm_campaign, utm_content, utm_term, additional_tags)
  select $1::integer, c.order_number, c.visit_time, v.visit ->> 'source', v.visit ->> 'medium', v.visit ->> 'keyword',
    v.visit ->> 'utmSource', v.visit ->> 'utmMedium', v.visit ->> 'utmCampaign', v.visit ->> 'utmContent', v.visit ->> 'utmTerm',
    v.visit -> 'additionalTags'
  from changed c
  cross join lateral (select c.record -> 'visit' as visit) v
  where jsonb_typeof(v.visit) = 'object'
),
custom_fields as (
  insert into calltouch.custom_fields (site_id, order_number, field, value)
  select $1::integer, c.order_number, f.key, f.value::numeric(38, 0)
  from changed c
  cross join lateral jsonb_each_text(
    case when jsonb_typeof(c.record -> 'custom') = 'object' then c.record -> 'custom' else '{}'::jsonb end
  ) as f
  where f.value is not null
),
tags as (
  insert into calltouch.tags (site_id, order_number, tag)
  select distinct $1::integer, c.order_number, t.tag
  from changed c
  cross join lateral jsonb_array_elements_text(
    case when jsonb_typeof(c.record -> 'tags') = 'array' then c.record -> 'tags' else '[]'::jsonb end
  ) as t(tag)
  where t.tag is not null
)
select (select count(*) from changed)::integer as deals
