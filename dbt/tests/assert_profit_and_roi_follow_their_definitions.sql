-- In every ROI mart, profit = revenue - spend, and roi is null exactly where
-- spend is 0. Returns the rows that break either rule.
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

unioned as (

    select 'fct_marketing_daily' as mart, revenue, spend, profit, roi from daily
    union all
    select 'fct_marketing_monthly', revenue, spend, profit, roi from monthly
    union all
    select 'fct_manager_channel_monthly', revenue, spend, profit, roi from manager_monthly

),

final as (

    select * from unioned
    where profit <> revenue - spend
        or (spend = 0) <> (roi is null)

)

select * from final
