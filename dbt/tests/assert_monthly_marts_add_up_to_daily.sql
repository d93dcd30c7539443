-- fct_marketing_monthly and fct_manager_channel_monthly add up, per site and
-- month, to fct_marketing_daily: deals, revenue, planned revenue and spend
-- (the managers' spend allocation loses no kopeck). Returns what differs.
with

daily as (

    select * from {{ ref('fct_marketing_daily') }}

),

monthly as (

    select * from {{ ref('fct_marketing_monthly') }}

),

manager_monthly as (

    select * from {{ ref('fct_manager_channel_monthly') }}

),

totals as (

    select
        'daily' as mart,
        site_id,
        cast(date_trunc('month', cast(date_day as timestamp)) as date) as date_month,
        deals, revenue, planned_revenue, spend
    from daily

    union all

    select 'monthly', site_id, date_month, deals, revenue, planned_revenue, spend
    from monthly

    union all

    select 'manager_channel_monthly', site_id, date_month, deals, revenue, planned_revenue, spend
    from manager_monthly

),

per_mart as (

    select
        mart,
        site_id,
        date_month,
        sum(deals) as deals,
        sum(revenue) as revenue,
        sum(planned_revenue) as planned_revenue,
        sum(spend) as spend

    from totals

    group by mart, site_id, date_month

),

final as (

    select
        site_id,
        date_month,
        count(distinct mart) as marts,
        count(distinct deals) as deal_totals,
        count(distinct revenue) as revenue_totals,
        count(distinct planned_revenue) as planned_revenue_totals,
        count(distinct spend) as spend_totals

    from per_mart

    group by site_id, date_month

    having count(distinct mart) <> 3
        or count(distinct deals) <> 1
        or count(distinct revenue) <> 1
        or count(distinct planned_revenue) <> 1
        or count(distinct spend) <> 1

)

select * from final
