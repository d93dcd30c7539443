with

campaign_stats as (

    select * from {{ ref('stg_marketing__ad_campaign_stats') }}

),

campaign_names as (

    select * from {{ ref('stg_marketing__ad_campaign_names') }}

),

accounts as (

    select * from {{ ref('stg_marketing__ad_accounts') }}

),

-- Every campaign a connector has seen, from its days or its name history.
campaigns as (

    select source_system, account, campaign_id from campaign_stats
    union
    select source_system, account, campaign_id from campaign_names

),

-- The current name: the one of the campaign's newest day; a campaign without
-- days takes the name seen last in its history.
newest_day_names as (

    select
        source_system,
        account,
        campaign_id,
        campaign_name,
        site_id,
        row_number() over (
            partition by source_system, account, campaign_id
            order by stat_date desc
        ) as recency

    from campaign_stats

),

newest_history_names as (

    select
        source_system,
        account,
        campaign_id,
        campaign_name,
        row_number() over (
            partition by source_system, account, campaign_id
            order by first_seen_at desc, campaign_name collate "C"
        ) as recency

    from campaign_names

),

named as (

    select
        campaigns.source_system,
        campaigns.account,
        campaigns.campaign_id,
        coalesce(newest_day_names.campaign_name, newest_history_names.campaign_name) as campaign_name,
        coalesce(accounts.site_id, newest_day_names.site_id) as site_id,
        {{ channel_key('accounts.account_utm_source') }} as utm_source,
        {{ channel_key('accounts.account_utm_medium') }} as utm_medium,
        coalesce(accounts.utm_campaign_holds, 'id') as utm_campaign_holds

    from campaigns

    left join newest_day_names
        on newest_day_names.source_system = campaigns.source_system
        and newest_day_names.account = campaigns.account
        and newest_day_names.campaign_id = campaigns.campaign_id
        and newest_day_names.recency = 1

    left join newest_history_names
        on newest_history_names.source_system = campaigns.source_system
        and newest_history_names.account = campaigns.account
        and newest_history_names.campaign_id = campaigns.campaign_id
        and newest_history_names.recency = 1

    left join accounts
        on accounts.source_system = campaigns.source_system
        and accounts.account = campaigns.account

),

final as (

    select
        *,
        case
            when utm_campaign_holds = 'name' then {{ channel_key('campaign_name') }}
            else cast(campaign_id as text)
        end as utm_campaign

    from named

)

select * from final
