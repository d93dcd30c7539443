with

deals as (

    select * from {{ ref('int_deals_attributed') }}

),

ad_spend as (

    select * from {{ ref('int_ad_spend_unioned') }}

),

deal_rows as (

    select
        site_id,
        deal_day as date_day,
        utm_source,
        utm_medium,
        utm_campaign,
        1 as deals,
        case when revenue > 0 then 1 else 0 end as deals_with_revenue,
        revenue,
        coalesce(planned_amount, 0) as planned_revenue,
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
        0 as deals,
        0 as deals_with_revenue,
        cast(0 as numeric(18, 2)) as revenue,
        cast(0 as numeric(18, 2)) as planned_revenue,
        spend

    from ad_spend

),

unioned as (

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
        cast(sum(deals) as integer) as deals,
        cast(sum(deals_with_revenue) as integer) as deals_with_revenue,
        cast(sum(revenue) as numeric(18, 2)) as revenue,
        cast(sum(planned_revenue) as numeric(18, 2)) as planned_revenue,
        cast(sum(spend) as numeric(18, 2)) as spend

    from unioned

    group by site_id, date_day, utm_source, utm_medium, utm_campaign

),

final as (

    select
        *,
        cast(revenue - spend as numeric(18, 2)) as profit,
        {{ roi('revenue', 'spend') }} as roi

    from aggregated

)

select * from final
