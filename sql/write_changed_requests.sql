-- Writes every new or changed request of the staged read (a payload_hash calltouch.requests does
-- not hold yet) in one statement, so each part sees the same changes: a version in
-- raw.calltouch_requests, its current state in calltouch.requests, and its tags in
-- calltouch.request_tags (RequestTags, capital R). Source fields sit under `session` (an older
-- shape under `order.session`), the keyword is `keywords`; `date` is epoch MILLISECONDS, `dateStr`
-- the site-local time (LEADS-API.md §2.3). Unchanged requests are not touched.
-- $1 site id, $2 run id. Returns how many versions landed and how many requests changed.
with changed as (
  select case when r.lead_id ~ '^[0-9]{1,18}$' then r.lead_id::bigint end as request_id, r.record as p, r.payload_hash, r.client_key, r.lead_day,
    coalesce(
      case when jsonb_typeof(r.record -> 'session') = 'object' then r.record -> 'session' end,
      case when jsonb_typeof(r.record -> 'order' -> 'session') = 'object' then r.record -> 'order' -> 'session' end,
      '{}'::jsonb
    ) as s
  from pg_temp.lead_records r
  where r.reason is null
    and not exists (
      select 1 from calltouch.requests q
      where q.site_id = $1::integer and q.request_id = case when r.lead_id ~ '^[0-9]{1,18}$' then r.lead_id::bigint end and q.payload_hash = r.payload_hash
    )
),
landed as (
  insert into raw.calltouch_requests (site_id, request_id, payload, payload_hash, run_id)
  select $1::integer, c.request_id, c.p, c.payload_hash, $2::bigint from changed c
  returning 1
),
upserted as (
  insert into calltouch.requests as t (
    site_id, request_id, request_number, request_time, request_local_time, request_day, subject, manager,
    unique_request, target_request, uniq_target_request, session_local_time, attribution,
    source, medium, keyword, utm_source, utm_medium, utm_campaign, utm_content, utm_term, city, url, ref,
    session_id, yandex_direct_campaign_id, yandex_direct_ad_group_id, yandex_direct_ad_id,
    client_id, client_name, client_phones, client_emails,
    client_key, removed_from_source_at, payload_hash, first_seen_at, last_changed_at, last_seen_at
  )
  select $1::integer, c.request_id, c.p ->> 'requestNumber',
    case when jsonb_typeof(c.p -> 'date') = 'number'
      then timestamptz '1970-01-01 00:00:00+00' + (c.p ->> 'date')::bigint * interval '1 millisecond' end,
    etl.parse_calltouch_timestamp(c.p ->> 'dateStr'),
    c.lead_day,
    c.p ->> 'subject', c.p ->> 'manager',
    case when lower(c.p ->> 'uniqueRequest') in ('true', 'false') then lower(c.p ->> 'uniqueRequest')::boolean end,
    case when lower(c.p ->> 'targetRequest') in ('true', 'false') then lower(c.p ->> 'targetRequest')::boolean end,
    case when lower(c.p ->> 'uniqTargetRequest') in ('true', 'false') then lower(c.p ->> 'uniqTargetRequest')::boolean end,
    etl.parse_calltouch_timestamp(c.s ->> 'sessionDate'),
    case when c.s ->> 'attribution' ~ '^-?[0-9]{1,9}$' then (c.s ->> 'attribution')::integer end,
    c.s ->> 'source', c.s ->> 'medium', c.s ->> 'keywords',
    c.s ->> 'utmSource', c.s ->> 'utmMedium', c.s ->> 'utmCampaign', c.s ->> 'utmContent', c.s ->> 'utmTerm',
    c.s ->> 'city', c.s ->> 'url', c.s ->> 'ref',
    case when c.s ->> 'sessionId' ~ '^[0-9]{1,18}$' then (c.s ->> 'sessionId')::bigint end,
    case when c.p -> 'yandexDirect' ->> 'campaignId' ~ '^[0-9]{1,18}$' then (c.p -> 'yandexDirect' ->> 'campaignId')::bigint end,
    case when c.p -> 'yandexDirect' ->> 'adGroupId' ~ '^[0-9]{1,18}$' then (c.p -> 'yandexDirect' ->> 'adGroupId')::bigint end,
    case when c.p -> 'yandexDirect' ->> 'adId' ~ '^[0-9]{1,18}$' then (c.p -> 'yandexDirect' ->> 'adId')::bigint end,
    case when c.p -> 'client' ->> 'clientId' ~ '^[0-9]{1,18}$' then (c.p -> 'client' ->> 'clientId')::bigint end,
    c.p -> 'client' ->> 'fio',
    (select string_agg(e.value ->> 'phoneNumber', ',' order by e.ord)
      from jsonb_array_elements(case when jsonb_typeof(c.p -> 'client' -> 'phones') = 'array' then c.p -> 'client' -> 'phones' else '[]'::jsonb end)
        with ordinality as e(value, ord)
      where jsonb_typeof(e.value -> 'phoneNumber') in ('string', 'number')),
    (select string_agg(e.value ->> 'contactValue', ',' order by e.ord)
      from jsonb_array_elements(case when jsonb_typeof(c.p -> 'client' -> 'contacts') = 'array' then c.p -> 'client' -> 'contacts' else '[]'::jsonb end)
        with ordinality as e(value, ord)
      where jsonb_typeof(e.value -> 'contactValue') in ('string', 'number')
        and upper(replace(coalesce(e.value ->> 'contactType', 'EMAIL'), '-', '')) = 'EMAIL'),
    c.client_key, null, c.payload_hash, now(), now(), now()
  from changed c
  on conflict (site_id, request_id) do update set
    request_number = excluded.request_number, request_time = excluded.request_time,
    request_local_time = excluded.request_local_time, request_day = excluded.request_day, subject = excluded.subject,
    manager = excluded.manager, unique_request = excluded.unique_request, target_request = excluded.target_request,
    uniq_target_request = excluded.uniq_target_request, session_local_time = excluded.session_local_time,
    attribution = excluded.attribution, source = excluded.source, medium = excluded.medium, keyword = excluded.keyword,
    utm_source = excluded.utm_source, utm_medium = excluded.utm_medium, utm_campaign = excluded.utm_campaign,
    utm_content = excluded.utm_content, utm_term = excluded.utm_term, city = excluded.city, url = excluded.url,
    ref = excluded.ref, session_id = excluded.session_id, yandex_direct_campaign_id = excluded.yandex_direct_campaign_id,
    yandex_direct_ad_group_id = excluded.yandex_direct_ad_group_id, yandex_direct_ad_id = excluded.yandex_direct_ad_id,
    client_id = excluded.client_id, client_name = excluded.client_name, client_phones = excluded.client_phones,
    client_emails = excluded.client_emails, client_key = excluded.client_key, removed_from_source_at = null,
    payload_hash = excluded.payload_hash, last_changed_at = excluded.last_changed_at, last_seen_at = excluded.last_seen_at
  returning 1
),
tags as (
  select distinct c.request_id, coalesce(g.value ->> 'category', '') as category, coalesce(g.value ->> 'type', '') as type,
    n.value #>> '{}' as tag
  from changed c
  cross join lateral jsonb_array_elements(case
    when jsonb_typeof(c.p -> 'RequestTags') = 'array' then c.p -> 'RequestTags'
    when jsonb_typeof(c.p -> 'requestTags') = 'array' then c.p -> 'requestTags'
    else '[]'::jsonb end) as g
  cross join lateral jsonb_array_elements(case when jsonb_typeof(g.value -> 'names') = 'array' then g.value -> 'names' else '[]'::jsonb end) as n
  where jsonb_typeof(n.value) in ('string', 'number')
),
lost_tags as (
  delete from calltouch.request_tags t
  using changed c
  where t.site_id = $1::integer and t.request_id = c.request_id
    and not exists (select 1 from tags n where n.request_id = t.request_id and n.category = t.category and n.type = t.type and n.tag = t.tag)
  returning 1
),
new_tags as (
  insert into calltouch.request_tags (site_id, request_id, category, type, tag)
  select $1::integer, n.request_id, n.category, n.type, n.tag from tags n
  on conflict do nothing
  returning 1
)
select (select count(*) from landed)::integer as landed, (select count(*) from upserted)::integer as changed,
  (select count(*) from lost_tags)::integer + (select count(*) from new_tags)::integer as tag_writes
