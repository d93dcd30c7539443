-- Spend in fct_marketing_daily is, per site, day and channel keys, the spend
-- of int_ad_spend_unioned (CSV and connector spend) rounded to the kopeck.
-- Returns the rows that differ.
with

unioned_spend as (

    select * from {{ ref('int_ad_spend_unioned') }}

),

daily as (

    select * from {{ ref('fct_marketing_daily') }}

),

expected as (

    select
        site_id,
        date_day,
        utm_source,
        utm_medium,
        utm_campaign,
        round(sum(spend), 2) as spend

    from unioned_spend

    group by site_id, date_day, utm_source, utm_medium, utm_campaign

),

final as (

    select
        coalesce(expected.site_id, daily.site_id) as site_id,
        coalesce(expected.date_day, daily.date_day) as date_day,
        coalesce(expected.utm_source, daily.utm_source) as utm_source,
        coalesce(expected.utm_medium, daily.utm_medium) as utm_medium,
        coalesce(expected.utm_campaign, daily.utm_campaign) as utm_campaign,
        expected.spend as expected_spend,
        daily.spend as actual_spend

    from expected

    full outer join daily
        on daily.site_id = expected.site_id
        and daily.date_day = expected.date_day
        and daily.utm_source = expected.utm_source
        and daily.utm_medium = expected.utm_medium
        and daily.utm_campaign = expected.utm_campaign

    where coalesce(expected.spend, 0) <> coalesce(daily.spend, 0)

)

select * from final
