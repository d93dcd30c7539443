-- One ad account's spend over a period, set against the deals' channel keys, for
-- `calltouch-etl status`. A campaign with activity in the period is matched when a counted deal
-- (neither deleted nor removed) of the account's site with order_day in the period carries the
-- account's utm_source and utm_medium and, as utm_campaign, the campaign id (the account's
-- utm_campaign_holds = 'id') or any name the campaign has had ('name'). Keys compare as the dbt
-- macro channel_key makes them (dbt/macros/channel_key.sql): trimmed, lower-cased, '',
-- '<не заполнено>', '(not set)' and '(none)' as none; a deal's source and medium fall back to its
-- visit's. A deal without utm_campaign matches nothing.
-- $1 source system, $2 account, $3 first day, $4 last day (inclusive, the account's days).
-- One row: spend, matched_spend, unmatched_spend (to the kopeck, unmatched = spend - matched),
-- campaigns and matched_campaigns (with activity in the period), top_unmatched_campaigns (json,
-- the 5 unmatched campaigns with the most spend: campaignId, campaignName of its newest day in
-- the period, spend).
with account as (
  select
    site_id,
    utm_campaign_holds,
    coalesce(nullif(nullif(nullif(nullif(lower(trim(utm_source)), ''), '<не заполнено>'), '(not set)'), '(none)'), '(none)') as utm_source,
    coalesce(nullif(nullif(nullif(nullif(lower(trim(utm_medium)), ''), '<не заполнено>'), '(not set)'), '(none)'), '(none)') as utm_medium
  from marketing.ad_accounts
  where source_system = $1::text and account = $2::text
),
deal_campaigns as (
  select distinct deal.utm_campaign
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
      nullif(nullif(nullif(nullif(lower(trim(v.utm_campaign)), ''), '<не заполнено>'), '(not set)'), '(none)') as utm_campaign
  ) as deal
  where o.order_day between $3::date and $4::date
    and not o.is_deleted
    and o.removed_from_source_at is null
    and deal.utm_source = account.utm_source
    and deal.utm_medium = account.utm_medium
    and deal.utm_campaign is not null
),
campaign_spend as (
  select
    campaign_id,
    sum(cost) as spend,
    (array_agg(campaign_name order by stat_date desc))[1] as campaign_name
  from marketing.ad_campaign_stats
  where source_system = $1::text and account = $2::text and stat_date between $3::date and $4::date
  group by campaign_id
),
campaign_keys as (
  select campaign_spend.campaign_id, campaign_spend.campaign_id::text as campaign_key
  from campaign_spend, account
  where account.utm_campaign_holds = 'id'
  union
  select names.campaign_id, nullif(nullif(nullif(nullif(lower(trim(names.campaign_name)), ''), '<не заполнено>'), '(not set)'), '(none)')
  from account, (
    select campaign_id, campaign_name from marketing.ad_campaign_names where source_system = $1::text and account = $2::text
    union
    select campaign_id, campaign_name from marketing.ad_campaign_stats where source_system = $1::text and account = $2::text
  ) as names
  where account.utm_campaign_holds = 'name'
),
campaigns as (
  select
    campaign_spend.*,
    exists (
      select 1 from campaign_keys
      join deal_campaigns on deal_campaigns.utm_campaign = campaign_keys.campaign_key
      where campaign_keys.campaign_id = campaign_spend.campaign_id
    ) as matched
  from campaign_spend
),
totals as (
  select
    round(coalesce(sum(spend), 0), 2) as spend,
    round(coalesce(sum(spend) filter (where matched), 0), 2) as matched_spend,
    count(*)::int as campaigns,
    (count(*) filter (where matched))::int as matched_campaigns
  from campaigns
)
select
  totals.spend,
  totals.matched_spend,
  totals.spend - totals.matched_spend as unmatched_spend,
  totals.campaigns,
  totals.matched_campaigns,
  coalesce((
    select json_agg(json_build_object(
      'campaignId', top.campaign_id::text,
      'campaignName', top.campaign_name,
      'spend', round(top.spend, 2)::text
    ) order by top.spend desc, top.campaign_id)
    from (
      select * from campaigns where not matched order by spend desc, campaign_id limit 5
    ) as top
  ), '[]'::json) as top_unmatched_campaigns
from totals
