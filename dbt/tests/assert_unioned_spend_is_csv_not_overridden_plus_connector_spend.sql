-- int_ad_spend_unioned holds, per site and day, the CSV spend of the
-- site-day-source-medium no connector covers plus all connector spend,
-- recomputed here from the sources. A connector covers a site-day-source-medium
-- when its account (site and keys of marketing.ad_accounts) has the day read
-- completely in etl.ledger, or has spend rows that day. Returns the site-days
-- that differ.
with

csv_spend as (

    select * from {{ source('marketing', 'ad_spend') }}

),

campaign_stats as (

    select * from {{ source('marketing', 'ad_campaign_stats') }}

),

accounts as (

    select * from {{ source('marketing', 'ad_accounts') }}

),

ledger as (

    select * from {{ source('etl', 'ledger') }}

),

unioned_spend as (

    select * from {{ ref('int_ad_spend_unioned') }}

),

covered as (

    select
        accounts.site_id,
        ledger.day,
        {{ channel_key('accounts.utm_source') }} as utm_source,
        {{ channel_key('accounts.utm_medium') }} as utm_medium

    from ledger

    inner join accounts
        on accounts.source_system = ledger.source
        and accounts.account = ledger.account

    where ledger.status = 'ok' or ledger.last_succeeded_at is not null

    union

    select
        campaign_stats.site_id,
        campaign_stats.stat_date,
        {{ channel_key('accounts.utm_source') }},
        {{ channel_key('accounts.utm_medium') }}

    from campaign_stats

    left join accounts
        on accounts.source_system = campaign_stats.source_system
        and accounts.account = campaign_stats.account

),

expected_rows as (

    select site_id, spend_date as day, cost as spend

    from csv_spend

    where not exists (
        select 1
        from covered
        where covered.site_id = csv_spend.site_id
            and covered.day = csv_spend.spend_date
            and covered.utm_source = {{ channel_key('csv_spend.source') }}
            and covered.utm_medium = {{ channel_key('csv_spend.medium') }}
    )

    union all

    select site_id, stat_date, cost from campaign_stats

),

expected as (

    select site_id, day, sum(spend) as spend
    from expected_rows
    group by site_id, day

),

actual as (

    select site_id, date_day as day, sum(spend) as spend
    from unioned_spend
    group by site_id, date_day

),

final as (

    select
        coalesce(expected.site_id, actual.site_id) as site_id,
        coalesce(expected.day, actual.day) as day,
        expected.spend as expected_spend,
        actual.spend as actual_spend

    from expected

    full outer join actual
        on actual.site_id = expected.site_id
        and actual.day = expected.day

    where coalesce(expected.spend, 0) <> coalesce(actual.spend, 0)

)

select * from final
