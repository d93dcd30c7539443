{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['site_id', 'date_day'],
        indexes=[
            {'columns': ['site_id', 'date_day']}
        ],
        post_hook="delete from {{ this }} where utm_source is null"
    )
}}

-- depends_on: {{ ref('int_deals_linked_to_leads') }}
-- depends_on: {{ ref('int_leads') }}

with

{% if is_incremental() %}
-- The batch: every site-day whose leads, deals or spend changed since this table's last build,
-- rebuilt whole (delete+insert by site and day).
since as (

    select coalesce(max(last_changed_at), cast('-infinity' as timestamptz)) as changed_at from {{ this }}

),

changed_deals as (

    select * from {{ ref('int_deals_linked_to_leads') }}
    where link_changed_at > (select changed_at from since)

),

changed_days as (

    -- The days of the deals changed since: the day each is on and every day it has left.
    select changed_deals.site_id, cast(deal_days.deal_day as date) as date_day
    from changed_deals
    cross join unnest(string_to_array(changed_deals.deal_days, ' ')) as deal_days (deal_day)

    union

    -- The days of the leads changed since, and of the leads such a deal is or was linked to
    -- (a lead gaining or losing its deals): the day each is on and every day it has left.
    select leads.site_id, cast(lead_days.lead_day as date)
    from {{ ref('int_leads') }} as leads
    cross join unnest(string_to_array(leads.lead_days, ' ')) as lead_days (lead_day)
    where leads.changed_at > (select changed_at from since)
        or leads.lead_key = any(array(
            select linked_lead_keys.lead_key
            from changed_deals
            cross join unnest(string_to_array(changed_deals.lead_keys, ' ')) as linked_lead_keys (lead_key)
        ))

),

-- Spend compared with what the table holds, key by key; a row without leads or deals is there for its spend only.
{{ changed_spend_days(ref('int_ad_spend_unioned'), this, 'built.leads = 0 and built.deals = 0') }},

-- Read as two arrays, of sites and of days, so that each table is read by its index: a day of
-- one site may bring the same day of another site along, and every site-day so read is rebuilt
-- whole (its deals, leads and spend all read alike).
batch_days as (

    select site_id, date_day from changed_days
    union
    select site_id, date_day from changed_spend_days

),
{% endif %}

leads as (

    select * from {{ ref('fct_leads') }}
    {% if is_incremental() %}
    where site_id = any(array(select distinct site_id from batch_days))
        and lead_day = any(array(select distinct date_day from batch_days))
    {% endif %}

),

deals as (

    select * from {{ ref('fct_deals') }}
    {% if is_incremental() %}
    where site_id = any(array(select distinct site_id from batch_days))
        and deal_day = any(array(select distinct date_day from batch_days))
    {% endif %}

),

ad_spend as (

    select * from {{ ref('int_ad_spend_unioned') }}
    {% if is_incremental() %}
    where site_id = any(array(select distinct site_id from batch_days))
        and date_day = any(array(select distinct date_day from batch_days))
    {% endif %}

),

lead_rows as (

    select
        site_id,
        lead_day as date_day,
        utm_source,
        utm_medium,
        utm_campaign,
        1 as leads,
        case when is_unique then 1 else 0 end as unique_leads,
        case when is_target then 1 else 0 end as target_leads,
        case when deals > 0 then 1 else 0 end as leads_with_deals,
        0 as deals,
        0 as deals_with_revenue,
        cast(0 as numeric(18, 2)) as revenue,
        cast(0 as numeric(18, 2)) as spend,
        last_changed_at

    from leads

    where is_counted

),

-- Deals as fct_marketing_daily counts them: on their deal_day and their own channel keys.
deal_rows as (

    select
        site_id,
        deal_day as date_day,
        utm_source,
        utm_medium,
        utm_campaign,
        0 as leads,
        0 as unique_leads,
        0 as target_leads,
        0 as leads_with_deals,
        1 as deals,
        case when revenue > 0 then 1 else 0 end as deals_with_revenue,
        revenue,
        cast(0 as numeric(18, 2)) as spend,
        last_changed_at

    from deals

    where is_counted and deal_day is not null

),

spend_rows as (

    select
        site_id,
        date_day,
        utm_source,
        utm_medium,
        utm_campaign,
        0 as leads,
        0 as unique_leads,
        0 as target_leads,
        0 as leads_with_deals,
        0 as deals,
        0 as deals_with_revenue,
        cast(0 as numeric(18, 2)) as revenue,
        spend,
        cast(null as timestamptz) as last_changed_at

    from ad_spend

),

unioned as (

    select * from lead_rows
    union all
    select * from deal_rows
    union all
    select * from spend_rows
    {% if is_incremental() %}
    -- One row without channel keys per day rebuilt, so that delete+insert deletes the rows of a
    -- day left without leads, deals or spend too; the post_hook deletes it.
    union all
    select
        site_id,
        date_day,
        cast(null as text),
        cast(null as text),
        cast(null as text),
        0,
        0,
        0,
        0,
        0,
        0,
        cast(0 as numeric(18, 2)),
        cast(0 as numeric(18, 2)),
        cast(null as timestamptz)
    from (select distinct site_id from batch_days) as batch_sites
    cross join (select distinct date_day from batch_days) as batch_dates
    {% endif %}

),

aggregated as (

    select
        site_id,
        date_day,
        utm_source,
        utm_medium,
        utm_campaign,
        cast(sum(leads) as integer) as leads,
        cast(sum(unique_leads) as integer) as unique_leads,
        cast(sum(target_leads) as integer) as target_leads,
        cast(sum(leads_with_deals) as integer) as leads_with_deals,
        cast(sum(deals) as integer) as deals,
        cast(sum(deals_with_revenue) as integer) as deals_with_revenue,
        cast(sum(revenue) as numeric(18, 2)) as revenue,
        cast(sum(spend) as numeric(18, 2)) as spend,
        max(last_changed_at) as last_changed_at

    from unioned

    group by site_id, date_day, utm_source, utm_medium, utm_campaign

),

final as (

    select
        site_id,
        date_day,
        utm_source,
        utm_medium,
        utm_campaign,
        leads,
        unique_leads,
        target_leads,
        leads_with_deals,
        deals,
        deals_with_revenue,
        revenue,
        spend,
        {{ ratio('spend', 'leads') }} as cost_per_lead,
        {{ ratio('spend', 'target_leads') }} as cost_per_target_lead,
        {{ ratio('leads_with_deals', 'leads') }} as lead_to_deal_conversion,
        {{ roi('revenue', 'spend') }} as roi,
        last_changed_at

    from aggregated

)

select * from final
