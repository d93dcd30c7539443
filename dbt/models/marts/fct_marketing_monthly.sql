with

daily as (

    select * from {{ ref('fct_marketing_daily') }}

),

aggregated as (

    select
        site_id,
        cast(date_trunc('month', cast(date_day as timestamp)) as date) as date_month,
        utm_source,
        utm_medium,
        utm_campaign,
        cast(sum(deals) as integer) as deals,
        cast(sum(deals_with_revenue) as integer) as deals_with_revenue,
        cast(sum(revenue) as numeric(18, 2)) as revenue,
        cast(sum(planned_revenue) as numeric(18, 2)) as planned_revenue,
        cast(sum(spend) as numeric(18, 2)) as spend

    from daily

    group by 1, 2, 3, 4, 5

),

final as (

    select
        *,
        cast(revenue - spend as numeric(18, 2)) as profit,
        {{ roi('revenue', 'spend') }} as roi

    from aggregated

)

select * from final
