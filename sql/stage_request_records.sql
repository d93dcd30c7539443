-- Stages the records of a requests read (pg_temp.lead_records, lead-staging.ts): every body is a
-- bare array (LEADS-API.md §2.2); one row per request, the last read of a requestId kept; each
-- with the day its site-local `dateStr` (DD/MM/YYYY HH:MM:SS: day first in the answer, though the
-- query's dates are month first; parsed by etl.parse_calltouch_timestamp, never cast) names, and
-- the reason when it cannot be loaded. Requests of other days are left out; a record whose day
-- cannot be told is kept, to be rejected. A requestId is kept in its canonical digits. A record's
-- place is its body's number times 1,000,000 plus its place in the body.
-- The isolating load (lead-isolation.ts) stages the records of a body PostgreSQL refused without
-- those it refuses ($5: their places in the body as received), and a refused record as a stand-in
-- of its requestId and dateStr, set aside with its reason and text ($6, $7: the record then loads
-- nowhere but into etl.rejected_records).
-- $1 the bodies as one JSON array, $2 first day, $3 last day, $4 bodies staged before these,
-- $5 the place of each record of a single body (null: as read), $6 the reason the records are set
-- aside for (null: they are not), $7 the text they are set aside with. Returns how many were staged.
with bodies as (
  select b.body, $4::integer + b.body_no as body_no from jsonb_array_elements($1::jsonb) with ordinality as b(body, body_no)
),
records as (
  select e.record, b.body_no * 1000000 + coalesce(($5::bigint[])[e.record_no], e.record_no) as record_no
  from bodies b
  cross join lateral jsonb_array_elements(case when jsonb_typeof(b.body) = 'array' then b.body else '[]'::jsonb end)
    with ordinality as e(record, record_no)
),
read as (
  select r.record, r.record_no,
    case when jsonb_typeof(r.record) = 'object' then
      case when r.record ->> 'requestId' ~ '^[0-9]{1,18}$' then ((r.record ->> 'requestId')::bigint)::text else r.record ->> 'requestId' end
    end as lead_id,
    case when jsonb_typeof(r.record -> 'dateStr') = 'string' then etl.parse_calltouch_timestamp(r.record ->> 'dateStr') end as local_time
  from records r
),
judged as (
  select d.*, case
    when $6::text is not null then $6::text
    when jsonb_typeof(d.record) <> 'object' then 'the record is not a JSON object'
    when jsonb_typeof(d.record -> 'requestId') is null or jsonb_typeof(d.record -> 'requestId') = 'null' then 'requestId is missing'
    when jsonb_typeof(d.record -> 'requestId') not in ('number', 'string') or d.lead_id !~ '^[0-9]{1,18}$'
      then format('requestId %s is not a positive integer', d.record -> 'requestId')
    when d.local_time is null then format('dateStr %s is not a date and time DD/MM/YYYY HH:MM:SS', coalesce(d.record -> 'dateStr', 'null'::jsonb))
    when jsonb_typeof(d.record -> 'date') not in ('number', 'null') or (jsonb_typeof(d.record -> 'date') = 'number' and d.record ->> 'date' !~ '^-?[0-9]{1,15}$')
      then format('date %s is not whole epoch milliseconds', d.record -> 'date')
    -- Fifteen digits reach past 294276 AD, PostgreSQL's last year, only forwards; backwards its
    -- first instant is 4714-11-24 00:00:00 UTC BC (https://www.postgresql.org/docs/current/datatype-datetime.html).
    when (d.record ->> 'date')::bigint < -210866803200000
      then format('date %s is before 4714-11-24 BC, the first time PostgreSQL holds', d.record -> 'date')
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
  insert into pg_temp.lead_records (lead_id, record, lead_day, payload_hash, reason, record_no, record_text)
  select k.lead_id, case when $6::text is null then k.record else '{}'::jsonb end, k.local_time::date, md5(k.record::text),
    k.reason, k.record_no, $7::text
  from kept k
  returning 1
)
select count(*)::integer as staged from staged
