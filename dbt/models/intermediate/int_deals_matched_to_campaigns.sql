-- A table built whole every time, not a view: fct_campaign_daily and the tests read it several
-- times, and each read of a view matches every deal again.
{{ config(materialized='table') }}

with

-- fct_deals, built already (and incrementally): its channel keys are not computed again.
deals as (

    select * from {{ ref('fct_deals') }}

),

campaigns as (

    select * from {{ ref('int_ad_campaigns_named') }}

),

campaign_names as (

    select * from {{ ref('stg_marketing__ad_campaign_names') }}

),

campaign_stats as (

    select * from {{ ref('stg_marketing__ad_campaign_stats') }}

),

-- Every name a campaign has had: its history and the names of its days.
names_seen as (

    select source_system, account, campaign_id, campaign_name from campaign_names
    union
    select source_system, account, campaign_id, campaign_name from campaign_stats

),

-- The utm_campaign keys that stand for a campaign: its id when the account's
-- deals carry ids, else each name it has had (trimmed and lower-cased).
campaign_keys as (

    select
        source_system,
        account,
        campaign_id,
        site_id,
        utm_source,
        utm_medium,
        cast(campaign_id as text) as campaign_key

    from campaigns

    where utm_campaign_holds = 'id'

    union

    select
        campaigns.source_system,
        campaigns.account,
        campaigns.campaign_id,
        campaigns.site_id,
        campaigns.utm_source,
        campaigns.utm_medium,
        {{ channel_key('names_seen.campaign_name') }} as campaign_key

    from campaigns

    inner join names_seen
        on names_seen.source_system = campaigns.source_system
        and names_seen.account = campaigns.account
        and names_seen.campaign_id = campaigns.campaign_id

    where campaigns.utm_campaign_holds = 'name'

),

spend_days as (

    select distinct source_system, account, campaign_id, stat_date

    from campaign_stats

    where cost_micros > 0

),

-- A deal may match several campaigns (two campaigns that shared a name): it
-- goes to the one with spend on the deal's order_day (the day the lead came,
-- whatever revenue_date says), then to the lowest campaign id.
candidates as (

    select
        deals.deal_key,
        deals.site_id,
        deals.order_number,
        deals.order_day,
        deals.deal_day,
        deals.is_counted,
        deals.revenue,
        campaign_keys.source_system,
        campaign_keys.account,
        campaign_keys.campaign_id,
        count(*) over (partition by deals.deal_key) as candidate_campaigns,
        row_number() over (
            partition by deals.deal_key
            order by
                case when spend_days.stat_date is null then 1 else 0 end,
                campaign_keys.campaign_id,
                campaign_keys.source_system collate "C",
                campaign_keys.account collate "C"
        ) as preference

    from deals

    inner join campaign_keys
        on campaign_keys.site_id = deals.site_id
        and campaign_keys.utm_source = deals.utm_source
        and campaign_keys.utm_medium = deals.utm_medium
        and campaign_keys.campaign_key = deals.utm_campaign

    left join spend_days
        on spend_days.source_system = campaign_keys.source_system
        and spend_days.account = campaign_keys.account
        and spend_days.campaign_id = campaign_keys.campaign_id
        and spend_days.stat_date = deals.order_day

    -- A deal without utm_campaign matches no campaign, whatever its name.
    where deals.utm_campaign <> '(none)'

),

final as (

    select
        candidates.deal_key,
        candidates.site_id,
        candidates.order_number,
        candidates.order_day,
        candidates.deal_day,
        candidates.is_counted,
        candidates.revenue,
        candidates.source_system,
        candidates.account,
        candidates.campaign_id,
        campaigns.campaign_name,
        cast(candidates.candidate_campaigns as integer) as candidate_campaigns

    from candidates

    inner join campaigns
        on campaigns.source_system = candidates.source_system
        and campaigns.account = candidates.account
        and campaigns.campaign_id = candidates.campaign_id

    where candidates.preference = 1

)

select * from final
