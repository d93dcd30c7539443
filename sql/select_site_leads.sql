-- One site's leads still returned by the API: calls and requests, in all and over the recent days.
-- $1 site id, $2 today (site-local), $3 recent days (today counted).
select
  (select count(*) from calltouch.calls where site_id = $1::integer and removed_from_source_at is null)::integer as calls_total,
  (select count(*) from calltouch.calls where site_id = $1::integer and removed_from_source_at is null
     and call_day > $2::date - $3::integer)::integer as calls_recent,
  (select count(*) from calltouch.requests where site_id = $1::integer and removed_from_source_at is null)::integer as requests_total,
  (select count(*) from calltouch.requests where site_id = $1::integer and removed_from_source_at is null
     and request_day > $2::date - $3::integer)::integer as requests_recent
