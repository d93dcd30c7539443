with

leads as (

    select * from {{ ref('fct_leads') }}

),

deals as (

    select * from {{ ref('int_deals_attributed') }}

),

ad_spend as (

    select * from {{ ref('int_ad_spend_unioned') }}

),

lead_rows as (

    select
        site_id,
        lead_day as date_day,
        utm_source,
        utm_medium,
        utm_campaign,
        1 as leads,
        case when is_unique then 1 else 0 end as unique_leads,
        case when is_target then 1 else 0 end as target_leads,
        case when deals > 0 then 1 else 0 end as leads_with_deals,
        0 as deals,
        0 as deals_with_revenue,
        cast(0 as numeric(18, 2)) as revenue,
        cast(0 as numeric(18, 2)) as spend

    from leads

    where is_counted

),

-- Deals as fct_marketing_daily counts them: on their deal_day and their own channel keys.
deal_rows as (

    select
        site_id,
        deal_day as date_day,
        utm_source,
        utm_medium,
        utm_campaign,
        0 as leads,
        0 as unique_leads,
        0 as target_leads,
        0 as leads_with_deals,
        1 as deals,
        case when revenue > 0 then 1 else 0 end as deals_with_revenue,
        revenue,
        cast(0 as numeric(18, 2)) as spend

    from deals

    where is_counted and deal_day is not null

),

spend_rows as (

    select
        site_id,
        date_day,
        utm_source,
        utm_medium,
        utm_campaign,
        0 as leads,
        0 as unique_leads,
        0 as target_leads,
        0 as leads_with_deals,
        0 as deals,
        0 as deals_with_revenue,
        cast(0 as numeric(18, 2)) as revenue,
        spend

    from ad_spend

),

unioned as (

    select * from lead_rows
    union all
    select * from deal_rows
    union all
    select * from spend_rows

),

aggregated as (

    select
        site_id,
        date_day,
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

    from unioned

    group by site_id, date_day, utm_source, utm_medium, utm_campaign

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
