with

spend as (

    select * from {{ ref('int_ad_spend_unioned') }}

),

matched_deals as (

    select * from {{ ref('int_deals_matched_to_campaigns') }}

),

campaigns as (

    select * from {{ ref('int_ad_campaigns_named') }}

),

spend_rows as (

    select
        site_id,
        date_day,
        origin as source_system,
        account,
        campaign_id,
        impressions,
        clicks,
        spend,
        0 as deals,
        cast(0 as numeric(18, 2)) as revenue

    from spend

    where origin <> 'csv'

),

deal_rows as (

    select
        site_id,
        deal_day as date_day,
        source_system,
        account,
        campaign_id,
        cast(0 as bigint) as impressions,
        cast(0 as bigint) as clicks,
        cast(0 as numeric(24, 6)) as spend,
        1 as deals,
        revenue

    from matched_deals

    where is_counted and deal_day is not null

),

unioned as (

    select * from spend_rows
    union all
    select * from deal_rows

),

aggregated as (

    select
        site_id,
        date_day,
        source_system,
        account,
        campaign_id,
        cast(sum(impressions) as bigint) as impressions,
        cast(sum(clicks) as bigint) as clicks,
        cast(sum(spend) as numeric(24, 6)) as spend,
        cast(sum(deals) as integer) as deals,
        cast(sum(revenue) as numeric(18, 2)) as revenue

    from unioned

    group by site_id, date_day, source_system, account, campaign_id

),

final as (

    select
        aggregated.site_id,
        aggregated.date_day,
        aggregated.source_system,
        aggregated.account,
        aggregated.campaign_id,
        campaigns.campaign_name,
        aggregated.impressions,
        aggregated.clicks,
        aggregated.spend,
        aggregated.deals,
        aggregated.revenue,
        {{ safe_ratio('aggregated.spend', 'aggregated.clicks', 2) }} as cpc,
        {{ safe_ratio('aggregated.spend', 'aggregated.deals', 2) }} as cost_per_deal,
        {{ roi('aggregated.revenue', 'aggregated.spend') }} as roi

    from aggregated

    inner join campaigns
        on campaigns.source_system = aggregated.source_system
        and campaigns.account = aggregated.account
        and campaigns.campaign_id = aggregated.campaign_id

)

select * from final
