-- Stages the window's records that differ from the version the warehouse holds (new deals,
-- changed deals, and records that cannot be loaded), each with the first reason it cannot be
-- loaded, or else its values converted. Every check reads without failing, and every cast runs
-- only on a record that passed them, so one bad record cannot abort the window. Only a rejected
-- record's payload is copied (it may have no orderNumber); the statements after this one read the
-- others from load_records by orderNumber.
-- $1 site id, $2 the site's IANA time zone (the API's dates are site-local).
insert into pg_temp.load_changes (
  order_number, record, payload_hash, existed, reason, order_id, order_date, order_day, created_date, completed_date,
  planned_amount, completed_amount, call_id, duration_seconds, call_time, visit_time
)
select r.order_number, case when k.reason is not null then r.record end, r.payload_hash, o.payload_hash is not null, k.reason,
  case when k.reason is null then nullif(t.order_id #>> '{}', '')::bigint end,
  p.order_local at time zone $2::text,
  p.order_local::date,
  p.created_date,
  p.completed_date,
  case when k.reason is null then nullif(t.planned_amount #>> '{}', '')::numeric(18, 2) end,
  case when k.reason is null then nullif(t.completed_amount #>> '{}', '')::numeric(18, 2) end,
  case when k.reason is null then nullif(t.call_id #>> '{}', '')::bigint end,
  case when k.reason is null then nullif(t.duration #>> '{}', '')::integer end,
  p.call_local at time zone $2::text,
  p.visit_local at time zone $2::text
from pg_temp.load_records r
-- The version the warehouse holds, looked up by key for each record. As a plain join, the planner
-- could hash every deal of the site instead, whenever its statistics take the site for a few rows
-- (a new site, or one never analyzed during its first backfill): each window would then read the
-- site's whole history. OFFSET 0 keeps the lookup a subquery of its own.
left join lateral (
  select o.payload_hash from calltouch.orders o
  where o.site_id = $1::integer and o.order_number = r.order_number
  offset 0
) as o on true
-- Each step is a lateral subquery kept whole by OFFSET 0, so its values are computed once a
-- record and used by name, without copying records through materialized CTEs. Values are pulled
-- out of the record once: the date parsers are inlined, and an argument that is a jsonb lookup
-- would be evaluated again at each of its ~20 uses. A JSON number is checked by its value (a
-- regex costs several times more); any other JSON type by its text, as the API may send digits
-- as a string.
cross join lateral (
  select r.record -> 'orderSource' as order_source, r.record -> 'visit' as visit,
    r.record -> 'plannedAmount' as planned_amount, r.record -> 'completedAmount' as completed_amount,
    r.record -> 'orderId' as order_id, r.record -> 'orderSource' -> 'callId' as call_id,
    r.record -> 'orderSource' -> 'duration' as duration,
    r.record ->> 'orderDate' as order_date_text,
    r.record ->> 'createdDate' as created_date_text,
    r.record ->> 'completedDate' as completed_date_text,
    r.record -> 'orderSource' ->> 'dateCall' as call_time_text,
    r.record -> 'visit' ->> 'visitDate' as visit_time_text
  offset 0
) as t
cross join lateral (
  select etl.parse_calltouch_timestamp(t.order_date_text) as order_local,
    etl.parse_calltouch_date(t.created_date_text) as created_date,
    etl.parse_calltouch_date(t.completed_date_text) as completed_date,
    etl.parse_calltouch_timestamp(t.call_time_text) as call_local,
    etl.parse_calltouch_timestamp(t.visit_time_text) as visit_local
  offset 0
) as p
cross join lateral (
  select
    case
      when jsonb_typeof(r.record) <> 'object' then 'the record is not a JSON object'
      when r.order_number is null then 'orderNumber is missing or empty'
      when p.order_local is null then format('orderDate %s is not a date and time DD/MM/YYYY HH:MM:SS', coalesce(r.record -> 'orderDate', 'null'))
      when p.created_date is null and t.created_date_text <> '' then format('createdDate %s is not a date DD/MM/YYYY', r.record -> 'createdDate')
      when p.completed_date is null and t.completed_date_text <> '' then format('completedDate %s is not a date DD/MM/YYYY', r.record -> 'completedDate')
      when case jsonb_typeof(t.planned_amount) when 'number' then abs(t.planned_amount::numeric) >= 1e16
        else t.planned_amount #>> '{}' !~ '^(-?[0-9]{1,16}(\.[0-9]+)?)?$' end then format('plannedAmount %s is not an amount of up to 16 integer digits', t.planned_amount)
      when case jsonb_typeof(t.completed_amount) when 'number' then abs(t.completed_amount::numeric) >= 1e16
        else t.completed_amount #>> '{}' !~ '^(-?[0-9]{1,16}(\.[0-9]+)?)?$' end then format('completedAmount %s is not an amount of up to 16 integer digits', t.completed_amount)
      when case jsonb_typeof(t.order_id) when 'number' then scale(t.order_id::numeric) <> 0 or abs(t.order_id::numeric) >= 1e18
        else t.order_id #>> '{}' !~ '^(-?[0-9]{1,18})?$' end then format('orderId %s is not an integer of up to 18 digits', t.order_id)
      when jsonb_typeof(t.order_source) not in ('object', 'null') then format('orderSource %s is not an object', t.order_source)
      when case jsonb_typeof(t.call_id) when 'number' then scale(t.call_id::numeric) <> 0 or abs(t.call_id::numeric) >= 1e18
        else t.call_id #>> '{}' !~ '^(-?[0-9]{1,18})?$' end then format('orderSource.callId %s is not an integer of up to 18 digits', t.call_id)
      when case jsonb_typeof(t.duration) when 'number' then scale(t.duration::numeric) <> 0 or abs(t.duration::numeric) >= 1e9
        else t.duration #>> '{}' !~ '^(-?[0-9]{1,9})?$' end then format('orderSource.duration %s is not an integer of up to 9 digits', t.duration)
      when p.call_local is null and t.call_time_text <> '' then format('orderSource.dateCall %s is not a date and time DD/MM/YYYY HH:MM:SS', t.order_source -> 'dateCall')
      when jsonb_typeof(t.visit) not in ('object', 'null') then format('visit %s is not an object', t.visit)
      when p.visit_local is null and t.visit_time_text <> '' then format('visit.visitDate %s is not a date and time DD/MM/YYYY HH:MM:SS', t.visit -> 'visitDate')
      when jsonb_typeof(r.record -> 'tags') not in ('array', 'null') then format('tags %s is not a list', r.record -> 'tags')
      when jsonb_typeof(r.record -> 'custom') not in ('object', 'null') then format('custom %s is not an object', r.record -> 'custom')
      -- jsonpath finds a bad value without a subquery per record; the subquery only names it.
      when jsonb_path_exists(r.record -> 'custom', '$.* ? (@.type() != "null" && (@.type() != "number" || @ != @.floor() || @.abs() >= 1e38))') then (
        select format('custom value %s of field %s is not an integer of up to 38 digits', f.value, to_jsonb(f.key))
        from jsonb_each(r.record -> 'custom') as f
        where jsonb_typeof(f.value) <> 'null' and (jsonb_typeof(f.value) <> 'number' or f.value::text !~ '^-?[0-9]{1,38}$')
        limit 1
      )
    end as reason
  offset 0
) as k
where o.payload_hash is distinct from r.payload_hash
