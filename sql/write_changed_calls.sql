-- Writes every new or changed call of the staged read (a payload_hash calltouch.calls does not
-- hold yet) in one statement, so each part sees the same changes: a version in raw.calltouch_calls,
-- its current state in calltouch.calls, and its tags in calltouch.call_tags (tags it lost deleted,
-- new ones added). Flags are JSON booleans or the strings true/True/false (old clients); numbers
-- and ids are read from their JSON text, never through a JavaScript number; `timestamp` is epoch
-- seconds, `date` the site-local time (LEADS-API.md §1.3). Unchanged calls are not touched.
-- $1 site id, $2 run id. Returns how many versions landed and how many calls changed.
with changed as (
  select case when r.lead_id ~ '^[0-9]{1,18}$' then r.lead_id::bigint end as call_id, r.record as p, r.payload_hash, r.client_key, r.lead_day
  from pg_temp.lead_records r
  where r.reason is null
    and not exists (
      select 1 from calltouch.calls c
      where c.site_id = $1::integer and c.call_id = case when r.lead_id ~ '^[0-9]{1,18}$' then r.lead_id::bigint end and c.payload_hash = r.payload_hash
    )
),
landed as (
  insert into raw.calltouch_calls (site_id, call_id, payload, payload_hash, run_id)
  select $1::integer, c.call_id, c.p, c.payload_hash, $2::bigint from changed c
  returning 1
),
upserted as (
  insert into calltouch.calls as t (
    site_id, call_id, call_time, call_local_time, call_day, duration_seconds, waiting_seconds, successful,
    unique_call, target_call, uniq_target_call, callback_call, call_phase, status_details, attribution,
    source, medium, keyword, utm_source, utm_medium, utm_campaign, utm_content, utm_term, city, url, ref,
    session_id, yandex_direct_campaign_id, yandex_direct_ad_group_id, yandex_direct_ad_id,
    hostname, call_url, caller_number, phone_number, redirect_number,
    client_key, removed_from_source_at, payload_hash, first_seen_at, last_changed_at, last_seen_at
  )
  select $1::integer, c.call_id,
    case when jsonb_typeof(c.p -> 'timestamp') = 'number'
      then timestamptz '1970-01-01 00:00:00+00' + (c.p ->> 'timestamp')::bigint * interval '1 second' end,
    etl.parse_calltouch_timestamp(c.p ->> 'date'),
    c.lead_day,
    case when c.p ->> 'duration' ~ '^-?[0-9]{1,9}$' then (c.p ->> 'duration')::integer end,
    case when c.p ->> 'waitingConnect' ~ '^-?[0-9]{1,9}$' then (c.p ->> 'waitingConnect')::integer end,
    case when lower(c.p ->> 'successful') in ('true', 'false') then lower(c.p ->> 'successful')::boolean end,
    case when lower(c.p ->> 'uniqueCall') in ('true', 'false') then lower(c.p ->> 'uniqueCall')::boolean end,
    case when lower(c.p ->> 'targetCall') in ('true', 'false') then lower(c.p ->> 'targetCall')::boolean end,
    case when lower(c.p ->> 'uniqTargetCall') in ('true', 'false') then lower(c.p ->> 'uniqTargetCall')::boolean end,
    case when lower(c.p ->> 'callbackCall') in ('true', 'false') then lower(c.p ->> 'callbackCall')::boolean end,
    c.p ->> 'callphase', c.p ->> 'statusDetails',
    case when c.p ->> 'attribution' ~ '^-?[0-9]{1,9}$' then (c.p ->> 'attribution')::integer end,
    c.p ->> 'source', c.p ->> 'medium', c.p ->> 'keyword',
    c.p ->> 'utmSource', c.p ->> 'utmMedium', c.p ->> 'utmCampaign', c.p ->> 'utmContent', c.p ->> 'utmTerm',
    c.p ->> 'city', c.p ->> 'url', c.p ->> 'ref',
    case when c.p ->> 'sessionId' ~ '^[0-9]{1,18}$' then (c.p ->> 'sessionId')::bigint end,
    case when c.p -> 'yandexDirect' ->> 'campaignId' ~ '^[0-9]{1,18}$' then (c.p -> 'yandexDirect' ->> 'campaignId')::bigint end,
    case when c.p -> 'yandexDirect' ->> 'adGroupId' ~ '^[0-9]{1,18}$' then (c.p -> 'yandexDirect' ->> 'adGroupId')::bigint end,
    case when c.p -> 'yandexDirect' ->> 'adId' ~ '^[0-9]{1,18}$' then (c.p -> 'yandexDirect' ->> 'adId')::bigint end,
    c.p ->> 'hostname', c.p ->> 'callUrl', c.p ->> 'callerNumber', c.p ->> 'phoneNumber', c.p ->> 'redirectNumber',
    c.client_key, null, c.payload_hash, now(), now(), now()
  from changed c
  on conflict (site_id, call_id) do update set
    call_time = excluded.call_time, call_local_time = excluded.call_local_time, call_day = excluded.call_day,
    duration_seconds = excluded.duration_seconds, waiting_seconds = excluded.waiting_seconds,
    successful = excluded.successful, unique_call = excluded.unique_call, target_call = excluded.target_call,
    uniq_target_call = excluded.uniq_target_call, callback_call = excluded.callback_call,
    call_phase = excluded.call_phase, status_details = excluded.status_details, attribution = excluded.attribution,
    source = excluded.source, medium = excluded.medium, keyword = excluded.keyword,
    utm_source = excluded.utm_source, utm_medium = excluded.utm_medium, utm_campaign = excluded.utm_campaign,
    utm_content = excluded.utm_content, utm_term = excluded.utm_term, city = excluded.city, url = excluded.url,
    ref = excluded.ref, session_id = excluded.session_id, yandex_direct_campaign_id = excluded.yandex_direct_campaign_id,
    yandex_direct_ad_group_id = excluded.yandex_direct_ad_group_id, yandex_direct_ad_id = excluded.yandex_direct_ad_id,
    hostname = excluded.hostname, call_url = excluded.call_url, caller_number = excluded.caller_number,
    phone_number = excluded.phone_number, redirect_number = excluded.redirect_number, client_key = excluded.client_key,
    removed_from_source_at = null, payload_hash = excluded.payload_hash, last_changed_at = excluded.last_changed_at,
    last_seen_at = excluded.last_seen_at
  returning 1
),
tags as (
  select distinct c.call_id, coalesce(g.value ->> 'category', '') as category, coalesce(g.value ->> 'type', '') as type,
    n.value #>> '{}' as tag
  from changed c
  cross join lateral jsonb_array_elements(case when jsonb_typeof(c.p -> 'callTags') = 'array' then c.p -> 'callTags' else '[]'::jsonb end) as g
  cross join lateral jsonb_array_elements(case when jsonb_typeof(g.value -> 'names') = 'array' then g.value -> 'names' else '[]'::jsonb end) as n
  where jsonb_typeof(n.value) in ('string', 'number')
),
lost_tags as (
  delete from calltouch.call_tags t
  using changed c
  where t.site_id = $1::integer and t.call_id = c.call_id
    and not exists (select 1 from tags n where n.call_id = t.call_id and n.category = t.category and n.type = t.type and n.tag = t.tag)
  returning 1
),
new_tags as (
  insert into calltouch.call_tags (site_id, call_id, category, type, tag)
  select $1::integer, n.call_id, n.category, n.type, n.tag from tags n
  on conflict do nothing
  returning 1
)
select (select count(*) from landed)::integer as landed, (select count(*) from upserted)::integer as changed,
  (select count(*) from lost_tags)::integer + (select count(*) from new_tags)::integer as tag_writes
