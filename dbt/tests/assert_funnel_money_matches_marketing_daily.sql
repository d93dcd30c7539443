-- fct_funnel_daily's deals, deals with revenue, revenue and spend are
-- fct_marketing_daily's on every key it has (so roi, the same macro over them,
-- is too); a funnel row it does not have (leads only) has no deals, revenue or
-- spend. Returns the rows that differ.
with

funnel as (

    select * from {{ ref('fct_funnel_daily') }}

),

marketing as (

    select * from {{ ref('fct_marketing_daily') }}

),

final as (

    select
        coalesce(funnel.site_id, marketing.site_id) as site_id,
        coalesce(funnel.date_day, marketing.date_day) as date_day,
        coalesce(funnel.utm_source, marketing.utm_source) as utm_source,
        coalesce(funnel.utm_medium, marketing.utm_medium) as utm_medium,
        coalesce(funnel.utm_campaign, marketing.utm_campaign) as utm_campaign,
        funnel.deals as funnel_deals,
        marketing.deals as marketing_deals,
        funnel.revenue as funnel_revenue,
        marketing.revenue as marketing_revenue,
        funnel.spend as funnel_spend,
        marketing.spend as marketing_spend

    from funnel

    full outer join marketing
        on marketing.site_id = funnel.site_id
        and marketing.date_day = funnel.date_day
        and marketing.utm_source = funnel.utm_source
        and marketing.utm_medium = funnel.utm_medium
        and marketing.utm_campaign = funnel.utm_campaign

    where funnel.site_id is null
        or coalesce(marketing.deals, 0) <> funnel.deals
        or coalesce(marketing.deals_with_revenue, 0) <> funnel.deals_with_revenue
        or coalesce(marketing.revenue, 0) <> funnel.revenue
        or coalesce(marketing.spend, 0) <> funnel.spend

)

select * from final
