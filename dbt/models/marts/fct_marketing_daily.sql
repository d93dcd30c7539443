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

with

{% if is_incremental() %}
-- The batch: every site-day whose deals or spend changed since this table's last build, rebuilt
-- whole (delete+insert by site and day).
since as (

    select coalesce(max(last_changed_at), cast('-infinity' as timestamptz)) as changed_at from {{ this }}

),

-- The days of the deals changed since: the day each is on and every day it has left.
changed_deal_days as (

    select linked.site_id, cast(deal_days.deal_day as date) as date_day
    from {{ ref('int_deals_linked_to_leads') }} as linked
    cross join unnest(string_to_array(linked.deal_days, ' ')) as deal_days (deal_day)
    where linked.changed_at > (select changed_at from since)

),

-- Spend compared with what the table holds, key by key; a row without deals is there for its spend only.
{{ changed_spend_days(ref('int_ad_spend_unioned'), this, 'built.deals = 0') }},

-- Read as two arrays, of sites and of days, so that each table is read by its index: a day of
-- one site may bring the same day of another site along, and every site-day so read is rebuilt
-- whole (its deals, leads and spend all read alike).
batch_days as (

    select site_id, date_day from changed_deal_days
    union
    select site_id, date_day from changed_spend_days

),
{% endif %}

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

deal_rows as (

    select
        site_id,
        deal_day as date_day,
        utm_source,
        utm_medium,
        utm_campaign,
        1 as deals,
        case when revenue > 0 then 1 else 0 end as deals_with_revenue,
        revenue,
        coalesce(planned_amount, 0) as planned_revenue,
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
        0 as deals,
        0 as deals_with_revenue,
        cast(0 as numeric(18, 2)) as revenue,
        cast(0 as numeric(18, 2)) as planned_revenue,
        spend,
        cast(null as timestamptz) as last_changed_at

    from ad_spend

),

unioned as (

    select * from deal_rows
    union all
    select * from spend_rows
    {% if is_incremental() %}
    -- One row without channel keys per day rebuilt, so that delete+insert deletes the rows of a
    -- day left without deals or spend too; the post_hook deletes it.
    union all
    select
        site_id,
        date_day,
        cast(null as text),
        cast(null as text),
        cast(null as text),
        0,
        0,
        cast(0 as numeric(18, 2)),
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
        cast(sum(deals) as integer) as deals,
        cast(sum(deals_with_revenue) as integer) as deals_with_revenue,
        cast(sum(revenue) as numeric(18, 2)) as revenue,
        cast(sum(planned_revenue) as numeric(18, 2)) as planned_revenue,
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
        deals,
        deals_with_revenue,
        revenue,
        planned_revenue,
        spend,
        cast(revenue - spend as numeric(18, 2)) as profit,
        {{ roi('revenue', 'spend') }} as roi,
        last_changed_at

    from aggregated

)

select * from final
