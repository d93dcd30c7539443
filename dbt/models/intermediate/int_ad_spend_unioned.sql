with

csv_spend as (

    select * from {{ ref('stg_marketing__ad_spend') }}

),

campaign_stats as (

    select * from {{ ref('stg_marketing__ad_campaign_stats') }}

),

campaigns as (

    select * from {{ ref('int_ad_campaigns_named') }}

),

accounts as (

    select * from {{ ref('stg_marketing__ad_accounts') }}

),

ledger as (

    select * from {{ ref('stg_etl__ledger') }}

),

connector_rows as (

    select
        campaign_stats.site_id,
        campaign_stats.stat_date as date_day,
        campaigns.utm_source,
        campaigns.utm_medium,
        campaigns.utm_campaign,
        campaign_stats.source_system as origin,
        campaign_stats.account,
        campaign_stats.campaign_id,
        campaigns.campaign_name,
        campaign_stats.impressions,
        campaign_stats.clicks,
        cast(campaign_stats.cost as numeric(24, 6)) as spend,
        campaign_stats.currency

    from campaign_stats

    -- Every campaign of campaign_stats is in int_ad_campaigns_named.
    inner join campaigns
        on campaigns.source_system = campaign_stats.source_system
        and campaigns.account = campaign_stats.account
        and campaigns.campaign_id = campaign_stats.campaign_id

),

-- The site-day-source-medium a connector covers: a day its account has read
-- completely (ledger ok, or failed on a later read while the rows of its last
-- complete read stay), or a day it has spend rows of.
covered as (

    select
        accounts.site_id,
        ledger.ledger_day as date_day,
        {{ channel_key('accounts.account_utm_source') }} as utm_source,
        {{ channel_key('accounts.account_utm_medium') }} as utm_medium

    from ledger

    inner join accounts
        on accounts.source_system = ledger.ledger_source
        and accounts.account = ledger.account

    where ledger.status = 'ok' or ledger.last_succeeded_at is not null

    union

    select site_id, date_day, utm_source, utm_medium from connector_rows

),

csv_rows as (

    select
        site_id,
        spend_date as date_day,
        {{ channel_key('spend_source') }} as utm_source,
        {{ channel_key('spend_medium') }} as utm_medium,
        {{ channel_key('spend_campaign') }} as utm_campaign,
        cost,
        currency

    from csv_spend

),

-- A connector wins: CSV rows of a site-day-source-medium it covers are left out.
csv_kept as (

    select
        site_id,
        date_day,
        utm_source,
        utm_medium,
        utm_campaign,
        'csv' as origin,
        cast(null as text) as account,
        cast(null as bigint) as campaign_id,
        cast(null as text) as campaign_name,
        cast(null as bigint) as impressions,
        cast(null as bigint) as clicks,
        cast(sum(cost) as numeric(24, 6)) as spend,
        currency

    from csv_rows

    where not exists (
        select 1
        from covered
        where covered.site_id = csv_rows.site_id
            and covered.date_day = csv_rows.date_day
            and covered.utm_source = csv_rows.utm_source
            and covered.utm_medium = csv_rows.utm_medium
    )

    group by site_id, date_day, utm_source, utm_medium, utm_campaign, currency

),

unioned as (

    select * from csv_kept
    union all
    select * from connector_rows

)

select * from unioned
