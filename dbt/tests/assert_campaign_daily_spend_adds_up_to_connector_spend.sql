-- Spend, impressions and clicks in fct_campaign_daily add up, per site, day and
-- source system, to marketing.ad_campaign_stats exactly, and its deals to the
-- counted deals of int_deals_matched_to_campaigns. Returns what differs.
with

campaign_stats as (

    select * from {{ source('marketing', 'ad_campaign_stats') }}

),

campaign_daily as (

    select * from {{ ref('fct_campaign_daily') }}

),

matched_deals as (

    select * from {{ ref('int_deals_matched_to_campaigns') }}

),

expected as (

    select
        site_id,
        stat_date as date_day,
        source_system,
        sum(cost) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        0 as deals

    from campaign_stats

    group by site_id, stat_date, source_system

    union all

    select site_id, deal_day, source_system, 0, 0, 0, count(*)

    from matched_deals

    where is_counted and deal_day is not null

    group by site_id, deal_day, source_system

),

expected_totals as (

    select
        site_id,
        date_day,
        source_system,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(deals) as deals

    from expected

    group by site_id, date_day, source_system

),

actual as (

    select
        site_id,
        date_day,
        source_system,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(deals) as deals

    from campaign_daily

    group by site_id, date_day, source_system

),

final as (

    select
        coalesce(expected_totals.site_id, actual.site_id) as site_id,
        coalesce(expected_totals.date_day, actual.date_day) as date_day,
        coalesce(expected_totals.source_system, actual.source_system) as source_system,
        expected_totals.spend as expected_spend,
        actual.spend as actual_spend,
        expected_totals.deals as expected_deals,
        actual.deals as actual_deals

    from expected_totals

    full outer join actual
        on actual.site_id = expected_totals.site_id
        and actual.date_day = expected_totals.date_day
        and actual.source_system = expected_totals.source_system

    where coalesce(expected_totals.spend, 0) <> coalesce(actual.spend, 0)
        or coalesce(expected_totals.impressions, 0) <> coalesce(actual.impressions, 0)
        or coalesce(expected_totals.clicks, 0) <> coalesce(actual.clicks, 0)
        or coalesce(expected_totals.deals, 0) <> coalesce(actual.deals, 0)

)

select * from final
