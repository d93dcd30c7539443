-- Stages the window's records that differ from the version the warehouse holds (new deals,
-- changed deals, and records that cannot be loaded), each with the first reason it cannot be
-- loaded, or else its values converted. Every check reads without failing, and every cast runs
-- only on a record that passed them, so one bad record cannot abort the window.
-- $1 site id, $2 the site's IANA time zone (the API's dates are site-local).
with changed as materialized (
  -- Each text is pulled out of the record once here: the date parsers are inlined, and an
  -- argument that is a jsonb lookup would be evaluated again at each of its ~20 uses.
  select r.order_number, r.record, r.payload_hash, o.order_number is not null as existed,
    r.record -> 'orderSource' as order_source, r.record -> 'visit' as visit,
    r.record ->> 'orderDate' as order_date_text,
    r.record ->> 'createdDate' as created_date_text,
    r.record ->> 'completedDate' as completed_date_text,
    r.record -> 'orderSource' ->> 'dateCall' as call_time_text,
    r.record -> 'visit' ->> 'visitDate' as visit_time_text
  from pg_temp.load_records r
  left join calltouch.orders o on o.site_id = $1::integer and o.order_number = r.order_number
  where o.payload_hash is distinct from r.payload_hash
),
parsed as materialized (
  select c.*,
    etl.parse_calltouch_timestamp(c.order_date_text) as order_local,
    etl.parse_calltouch_date(c.created_date_text) as created_date,
    etl.parse_calltouch_date(c.completed_date_text) as completed_date,
    etl.parse_calltouch_timestamp(c.call_time_text) as call_local,
    etl.parse_calltouch_timestamp(c.visit_time_text) as visit_local
  from changed c
),
checked as materialized (
  select c.*,
    case
      when jsonb_typeof(c.record) <> 'object' then 'the record is not a JSON object'
      when c.order_number is null then 'orderNumber is missing or empty'
      when c.order_local is null then format('orderDate %s is not a date and time DD/MM/YYYY HH:MM:SS', coalesce(c.record -> 'orderDate', 'null'))
      when c.created_date is null and c.created_date_text <> '' then format('createdDate %s is not a date DD/MM/YYYY', c.record -> 'createdDate')
      when c.completed_date is null and c.completed_date_text <> '' then format('completedDate %s is not a date DD/MM/YYYY', c.record -> 'completedDate')
      when c.record ->> 'plannedAmount' !~ '^(-?[0-9]{1,16}(\.[0-9]+)?)?$' then format('plannedAmount %s is not an amount of up to 16 integer digits', c.record -> 'plannedAmount')
      when c.record ->> 'completedAmount' !~ '^(-?[0-9]{1,16}(\.[0-9]+)?)?$' then format('completedAmount %s is not an amount of up to 16 integer digits', c.record -> 'completedAmount')
      when c.record ->> 'orderId' !~ '^(-?[0-9]{1,18})?$' then format('orderId %s is not an integer of up to 18 digits', c.record -> 'orderId')
      when jsonb_typeof(c.order_source) not in ('object', 'null') then format('orderSource %s is not an object', c.order_source)
      when c.order_source ->> 'callId' !~ '^(-?[0-9]{1,18})?$' then format('orderSource.callId %s is not an integer of up to 18 digits', c.order_source -> 'callId')
      when c.order_source ->> 'duration' !~ '^(-?[0-9]{1,9})?$' then format('orderSource.duration %s is not an integer of up to 9 digits', c.order_source -> 'duration')
      when c.call_local is null and c.call_time_text <> '' then format('orderSource.dateCall %s is not a date and time DD/MM/YYYY HH:MM:SS', c.order_source -> 'dateCall')
      when jsonb_typeof(c.visit) not in ('object', 'null') then format('visit %s is not an object', c.visit)
      when c.visit_local is null and c.visit_time_text <> '' then format('visit.visitDate %s is not a date and time DD/MM/YYYY HH:MM:SS', c.visit -> 'visitDate')
      when jsonb_typeof(c.record -> 'tags') not in ('array', 'null') then format('tags %s is not a list', c.record -> 'tags')
      when jsonb_typeof(c.record -> 'custom') not in ('object', 'null') then format('custom %s is not an object', c.record -> 'custom')
      -- jsonpath finds a bad value without a subquery per record; the subquery only names it.
      when jsonb_path_exists(c.record -> 'custom', '$.* ? (@.type() != "null" && (@.type() != "number" || @ != @.floor() || @.abs() >= 1e38))') then (
        select format('custom value %s of field %s is not an integer of up to 38 digits', f.value, to_jsonb(f.key))
        from jsonb_each(c.record -> 'custom') as f
        where jsonb_typeof(f.value) <> 'null' and (jsonb_typeof(f.value) <> 'number' or f.value::text !~ '^-?[0-9]{1,38}$')
        limit 1
      )
    end as reason
  from parsed c
)
insert into pg_temp.load_changes (
  order_number, record, payload_hash, existed, reason, order_id, order_date, order_day, created_date, completed_date,
  planned_amount, completed_amount, call_id, duration_seconds, call_time, visit_time
)
select k.order_number, k.record, k.payload_hash, k.existed, k.reason,
  case when k.reason is null then nullif(k.record ->> 'orderId', '')::bigint end,
  k.order_local at time zone $2::text,
  k.order_local::date,
  k.created_date,
  k.completed_date,
  case when k.reason is null then nullif(k.record ->> 'plannedAmount', '')::numeric(18, 2) end,
  case when k.reason is null then nullif(k.record ->> 'completedAmount', '')::numeric(18, 2) end,
  case when k.reason is null then nullif(k.order_source ->> 'callId', '')::bigint end,
  case when k.reason is null then nullif(k.order_source ->> 'duration', '')::integer end,
  k.call_local at time zone $2::text,
  k.visit_local at time zone $2::text
from checked k
