with

leads as (

    select * from {{ ref('int_leads') }}

),

lead_deals as (

    select * from {{ ref('int_lead_deals') }}

),

call_tags as (

    select * from {{ ref('stg_calltouch__call_tags') }}

),

request_tags as (

    select * from {{ ref('stg_calltouch__request_tags') }}

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
        cast(coalesce(lead_deals.revenue, 0) as numeric(18, 2)) as revenue

    from leads

    left join lead_deals
        on lead_deals.lead_key = leads.lead_key

    left join tags_per_lead
        on tags_per_lead.lead_key = leads.lead_key

)

select * from final
