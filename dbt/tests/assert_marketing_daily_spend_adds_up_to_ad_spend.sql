-- Spend in fct_marketing_daily adds up, per site and day, to marketing.ad_spend.
-- Returns the site-days that differ.
with

ad_spend as (

    select * from {{ source('marketing', 'ad_spend') }}

),

daily as (

    select * from {{ ref('fct_marketing_daily') }}

),

expected as (

    select site_id, spend_date as date_day, sum(cost) as spend
    from ad_spend
    group by site_id, spend_date

),

actual as (

    select site_id, date_day, sum(spend) as spend
    from daily
    group by site_id, date_day

),

final as (

    select
        coalesce(expected.site_id, actual.site_id) as site_id,
        coalesce(expected.date_day, actual.date_day) as date_day,
        expected.spend as expected_spend,
        actual.spend as actual_spend

    from expected

    full outer join actual
        on actual.site_id = expected.site_id
        and actual.date_day = expected.date_day

    where coalesce(expected.spend, 0) <> coalesce(actual.spend, 0)

)

select * from final
