{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='lead_key',
        indexes=[
            {'columns': ['lead_key'], 'unique': true},
            {'columns': ['site_id', 'lead_day']},
            {'columns': ['last_changed_at']}
        ],
        post_hook="{{ enforce_not_null(this, ['lead_key', 'site_id', 'lead_id', 'lead_day', 'is_unique', 'is_target', 'is_unique_target', 'utm_source', 'utm_medium', 'utm_campaign', 'deals', 'deals_with_revenue', 'revenue']) }}"
    )
}}

-- depends_on: {{ ref('int_deals_linked_to_leads') }}

with

{% if is_incremental() %}
-- The batch: the leads changed since this table's last build, and every lead a deal changed since
-- then is or was linked to (a lead gaining, losing or keeping a changed deal).
since as (

    select coalesce(max(last_changed_at), cast('-infinity' as timestamptz)) as changed_at from {{ this }}

),

batch as (

    select lead_key
    from {{ ref('int_leads') }}
    where changed_at > (select changed_at from since)

    union

    select linked_lead_keys.lead_key
    from {{ ref('int_deals_linked_to_leads') }} as linked
    cross join unnest(string_to_array(linked.lead_keys, ' ')) as linked_lead_keys (lead_key)
    where linked.lead_keys is not null
        and linked.link_changed_at > (select changed_at from since)

),
{% endif %}

leads as (

    select * from {{ ref('int_leads') }}
    {% if is_incremental() %}
    where lead_key = any(array(select lead_key from batch))
    {% endif %}

),

lead_deals as (

    select * from {{ ref('int_lead_deals') }}
    {% if is_incremental() %}
    -- As an array, so the filter reaches into the view (its window and grouping are per lead).
    where lead_key = any(array(select lead_key from batch))
    {% endif %}

),

call_tags as (

    select * from {{ ref('stg_calltouch__call_tags') }}
    {% if is_incremental() %}
    where (site_id, call_id) in (select site_id, lead_id from leads where lead_type = 'call')
    {% endif %}

),

request_tags as (

    select * from {{ ref('stg_calltouch__request_tags') }}
    {% if is_incremental() %}
    where (site_id, request_id) in (select site_id, lead_id from leads where lead_type = 'request')
    {% endif %}

),

tags as (

    select cast(site_id as text) || ':call:' || cast(call_id as text) as lead_key, tag from call_tags
    union
    select cast(site_id as text) || ':request:' || cast(request_id as text) as lead_key, tag from request_tags

),

tags_per_lead as (

    select
        lead_key,
        string_agg(tag, ', ' order by tag) as tags

    from tags

    group by lead_key

),

final as (

    select
        leads.lead_key,
        leads.site_id,
        leads.lead_type,
        leads.lead_id,
        leads.request_number,
        leads.lead_day,
        leads.led_at,
        leads.lead_local_time,
        leads.is_unique,
        leads.is_target,
        leads.is_unique_target,
        leads.utm_source,
        leads.utm_medium,
        leads.utm_campaign,
        leads.yandex_direct_campaign_id,
        leads.client_key,
        leads.is_removed_from_source,
        leads.is_counted,
        tags_per_lead.tags,
        lead_deals.first_deal_key,
        lead_deals.first_order_number,
        lead_deals.first_deal_day,
        lead_deals.order_numbers,
        coalesce(lead_deals.deals, 0) as deals,
        coalesce(lead_deals.deals_with_revenue, 0) as deals_with_revenue,
        cast(coalesce(lead_deals.revenue, 0) as numeric(18, 2)) as revenue,
        -- When the lead or one of its counted deals last changed; the incremental build's watermark.
        greatest(leads.lead_changed_at, lead_deals.last_changed_at) as last_changed_at

    from leads

    left join lead_deals
        on lead_deals.lead_key = leads.lead_key

    left join tags_per_lead
        on tags_per_lead.lead_key = leads.lead_key

)

select * from final
