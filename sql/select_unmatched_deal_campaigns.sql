-- The deals under one ad account's utm_source and utm_medium whose utm_campaign stands for no
-- campaign, for `calltouch-etl status`: counted deals (neither deleted nor removed) of the
-- account's site with order_day in the period, keys compared as the dbt macro channel_key makes
-- them (dbt/macros/channel_key.sql; a deal's source and medium fall back to its visit's). A
-- utm_campaign stands for a campaign when it is the id (utm_campaign_holds = 'id') or any name
-- ('name') of a campaign of ANY ad account of the site with the same utm_source and utm_medium;
-- a deal without utm_campaign ('(none)') stands for none.
-- $1 source system, $2 account, $3 first day, $4 last day (inclusive, the site's days).
-- One row: deals (under the source and medium), unmatched_deals, top_unmatched_utm_campaigns
-- (json, the 5 utm_campaign keys with the most unmatched deals: utmCampaign, deals).
with account as (
  select
    site_id,
    coalesce(nullif(nullif(nullif(nullif(lower(trim(utm_source)), ''), '<не заполнено>'), '(not set)'), '(none)'), '(none)') as utm_source,
    coalesce(nullif(nullif(nullif(nullif(lower(trim(utm_medium)), ''), '<не заполнено>'), '(not set)'), '(none)'), '(none)') as utm_medium
  from marketing.ad_accounts
  where source_system = $1::text and account = $2::text
),
sibling_accounts as (
  select a.source_system, a.account, a.utm_campaign_holds
  from marketing.ad_accounts a, account
  where a.site_id = account.site_id
    and coalesce(nullif(nullif(nullif(nullif(lower(trim(a.utm_source)), ''), '<не заполнено>'), '(not set)'), '(none)'), '(none)') = account.utm_source
    and coalesce(nullif(nullif(nullif(nullif(lower(trim(a.utm_medium)), ''), '<не заполнено>'), '(not set)'), '(none)'), '(none)') = account.utm_medium
),
campaign_keys as (
  select s.campaign_id::text as campaign_key
  from sibling_accounts a
  join marketing.ad_campaign_stats s on s.source_system = a.source_system and s.account = a.account
  where a.utm_campaign_holds = 'id'
  union
  select n.campaign_id::text
  from sibling_accounts a
  join marketing.ad_campaign_names n on n.source_system = a.source_system and n.account = a.account
  where a.utm_campaign_holds = 'id'
  union
  select nullif(nullif(nullif(nullif(lower(trim(s.campaign_name)), ''), '<не заполнено>'), '(not set)'), '(none)')
  from sibling_accounts a
  join marketing.ad_campaign_stats s on s.source_system = a.source_system and s.account = a.account
  where a.utm_campaign_holds = 'name'
  union
  select nullif(nullif(nullif(nullif(lower(trim(n.campaign_name)), ''), '<не заполнено>'), '(not set)'), '(none)')
  from sibling_accounts a
  join marketing.ad_campaign_names n on n.source_system = a.source_system and n.account = a.account
  where a.utm_campaign_holds = 'name'
),
deals as (
  select deal.utm_campaign
  from account
  join calltouch.orders o on o.site_id = account.site_id
  left join calltouch.visits v on v.site_id = o.site_id and v.order_number = o.order_number
  cross join lateral (
    select
      coalesce(
        nullif(nullif(nullif(nullif(lower(trim(v.utm_source)), ''), '<не заполнено>'), '(not set)'), '(none)'),
        nullif(nullif(nullif(nullif(lower(trim(v.source)), ''), '<не заполнено>'), '(not set)'), '(none)'),
        '(none)'
      ) as utm_source,
      coalesce(
        nullif(nullif(nullif(nullif(lower(trim(v.utm_medium)), ''), '<не заполнено>'), '(not set)'), '(none)'),
        nullif(nullif(nullif(nullif(lower(trim(v.medium)), ''), '<не заполнено>'), '(not set)'), '(none)'),
        '(none)'
      ) as utm_medium,
      coalesce(
        nullif(nullif(nullif(nullif(lower(trim(v.utm_campaign)), ''), '<не заполнено>'), '(not set)'), '(none)'),
        '(none)'
      ) as utm_campaign
  ) as deal
  where o.order_day between $3::date and $4::date
    and not o.is_deleted
    and o.removed_from_source_at is null
    and deal.utm_source = account.utm_source
    and deal.utm_medium = account.utm_medium
),
unmatched as (
  select utm_campaign, count(*)::int as deals
  from deals
  where not exists (select 1 from campaign_keys where campaign_keys.campaign_key = deals.utm_campaign)
  group by utm_campaign
)
select
  (select count(*)::int from deals) as deals,
  coalesce((select sum(deals)::int from unmatched), 0) as unmatched_deals,
  coalesce((
    select json_agg(json_build_object('utmCampaign', top.utm_campaign, 'deals', top.deals) order by top.deals desc, top.utm_campaign collate "C")
    from (select * from unmatched order by deals desc, utm_campaign collate "C" limit 5) as top
  ), '[]'::json) as top_unmatched_utm_campaigns
