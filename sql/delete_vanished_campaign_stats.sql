-- Deletes the campaign-days of an ad account, within the days one complete read covered, that
-- the read no longer holds (their activity was corrected away: no row means zero).
-- $1 source system, $2 account, $3 first day, $4 last day (inclusive), $5 days (text[]),
-- $6 campaign ids (text[]): the rows the read returned, as in upsert_campaign_stats.
-- Returns the count deleted.
with kept as (
  select r.day::date as stat_date, r.campaign_id::bigint as campaign_id
  from unnest($5::text[], $6::text[]) as r (day, campaign_id)
),
deleted as (
  delete from marketing.ad_campaign_stats s
  where s.source_system = $1::text and s.account = $2::text
    and s.stat_date between $3::date and $4::date
    and not exists (select 1 from kept k where k.stat_date = s.stat_date and k.campaign_id = s.campaign_id)
  returning 1
)
select count(*)::integer as deleted from deleted
