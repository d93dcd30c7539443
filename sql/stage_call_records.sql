-- Stages the records of a calls window (pg_temp.lead_records, lead-staging.ts): every page body
-- (the paged envelope's records, or a bare array), one row per call, the last read of a callId
-- kept; each with the day its site-local `date` (DD/MM/YYYY HH:MM:SS, day first, parsed by
-- etl.parse_calltouch_timestamp, never cast) names, and the reason when it cannot be loaded. Calls
-- of days outside the window are left out; a record whose day cannot be told is kept, to be rejected.
-- $1 the window's bodies as one JSON array, $2 first day, $3 last day. Returns how many were staged.
with bodies as (
  select b.body, b.body_no from jsonb_array_elements($1::jsonb) with ordinality as b(body, body_no)
),
records as (
  select e.record, b.body_no * 1000000 + e.record_no as record_no
  from bodies b
  cross join lateral jsonb_array_elements(case
    when jsonb_typeof(b.body) = 'array' then b.body
    when jsonb_typeof(b.body -> 'records') = 'array' then b.body -> 'records'
    else '[]'::jsonb
  end) with ordinality as e(record, record_no)
),
read as (
  select r.record, r.record_no,
    case when jsonb_typeof(r.record) = 'object' then r.record ->> 'callId' end as lead_id,
    case when jsonb_typeof(r.record -> 'date') = 'string' then etl.parse_calltouch_timestamp(r.record ->> 'date') end as local_time
  from records r
),
judged as (
  select d.*, case
    when jsonb_typeof(d.record) <> 'object' then 'the record is not a JSON object'
    when jsonb_typeof(d.record -> 'callId') is null or jsonb_typeof(d.record -> 'callId') = 'null' then 'callId is missing'
    when jsonb_typeof(d.record -> 'callId') not in ('number', 'string') or d.lead_id !~ '^[0-9]{1,18}$'
      then format('callId %s is not a positive integer', d.record -> 'callId')
    when d.local_time is null then format('date %s is not a date and time DD/MM/YYYY HH:MM:SS', coalesce(d.record -> 'date', 'null'::jsonb))
    when jsonb_typeof(d.record -> 'timestamp') not in ('number', 'null') or (jsonb_typeof(d.record -> 'timestamp') = 'number' and d.record ->> 'timestamp' !~ '^-?[0-9]{1,12}$')
      then format('timestamp %s is not whole epoch seconds', d.record -> 'timestamp')
  end as reason
  from read d
),
kept as (
  select distinct on (case when j.reason is null then 'id:' || j.lead_id else 'no:' || j.record_no end) j.*
  from judged j
  where j.local_time is null or j.local_time::date between $2::date and $3::date
  order by case when j.reason is null then 'id:' || j.lead_id else 'no:' || j.record_no end, j.record_no desc
),
staged as (
  insert into pg_temp.lead_records (lead_id, record, lead_day, payload_hash, reason, record_no)
  select k.lead_id, k.record, k.local_time::date, md5(k.record::text), k.reason, k.record_no from kept k
  returning 1
)
select count(*)::integer as staged from staged
