-- Revenue and deals in fct_marketing_daily add up, per site, to the revenue
-- rule applied to calltouch.orders directly. Returns the sites that differ.
with

orders as (

    select * from {{ source('calltouch', 'orders') }}

),

daily as (

    select * from {{ ref('fct_marketing_daily') }}

),

expected as (

    select
        site_id,
        count(*) filter (where not is_deleted and removed_from_source_at is null) as deals,
        sum(case when not is_deleted and removed_from_source_at is null then coalesce(completed_amount, 0) else 0 end) as revenue

    from orders

    where {{ revenue_date_column() }} is not null

    group by site_id

),

actual as (

    select
        site_id,
        sum(deals) as deals,
        sum(revenue) as revenue

    from daily

    group by site_id

),

final as (

    select
        coalesce(expected.site_id, actual.site_id) as site_id,
        expected.deals as expected_deals,
        actual.deals as actual_deals,
        expected.revenue as expected_revenue,
        actual.revenue as actual_revenue

    from expected

    full outer join actual
        on actual.site_id = expected.site_id

    where coalesce(expected.deals, 0) <> coalesce(actual.deals, 0)
        or coalesce(expected.revenue, 0) <> coalesce(actual.revenue, 0)

)

select * from final
