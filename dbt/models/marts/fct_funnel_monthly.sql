with

daily as (

    select * from {{ ref('fct_funnel_daily') }}

),

aggregated as (

    select
        site_id,
        cast(date_trunc('month', cast(date_day as timestamp)) as date) as date_month,
        utm_source,
        utm_medium,
        utm_campaign,
        cast(sum(leads) as integer) as leads,
        cast(sum(unique_leads) as integer) as unique_leads,
        cast(sum(target_leads) as integer) as target_leads,
        cast(sum(leads_with_deals) as integer) as leads_with_deals,
        cast(sum(deals) as integer) as deals,
        cast(sum(deals_with_revenue) as integer) as deals_with_revenue,
        cast(sum(revenue) as numeric(18, 2)) as revenue,
        cast(sum(spend) as numeric(18, 2)) as spend

    from daily

    group by 1, 2, 3, 4, 5

),

final as (

    select
        *,
        {{ ratio('spend', 'leads') }} as cost_per_lead,
        {{ ratio('spend', 'target_leads') }} as cost_per_target_lead,
        {{ ratio('leads_with_deals', 'leads') }} as lead_to_deal_conversion,
        {{ roi('revenue', 'spend') }} as roi

    from aggregated

)

select * from final
