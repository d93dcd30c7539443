{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='deal_key'
    )
}}

with

deals as (

    select * from {{ ref('int_deals_attributed') }}
    {% if is_incremental() %}
    -- Only the deals the warehouse changed since this table's last build (see changed_at):
    -- a deal's visit, source, tags and custom values are replaced only with a new version.
    where changed_at > (select coalesce(max(last_changed_at), cast('-infinity' as timestamptz)) from {{ this }})
    {% endif %}

),

tags as (

    select * from {{ ref('stg_calltouch__tags') }}
    {% if is_incremental() %}
    where (site_id, order_number) in (select site_id, order_number from deals)
    {% endif %}

),

deal_sources as (

    select * from {{ ref('stg_calltouch__sources') }}

),

custom_fields as (

    select * from {{ ref('stg_calltouch__custom_fields') }}
    {% if is_incremental() %}
    where (site_id, order_number) in (select site_id, order_number from deals)
    {% endif %}

),

tags_per_deal as (

    select
        site_id,
        order_number,
        string_agg(tag, ', ' order by tag) as tags,
        count(*) as tag_count

    from tags

    group by site_id, order_number

),

custom_fields_per_deal as (

    select
        site_id,
        order_number,
        count(*) as custom_field_count

    from custom_fields

    group by site_id, order_number

),

final as (

    select
        deals.deal_key,
        deals.site_id,
        deals.order_number,
        deals.order_day,
        deals.completed_date,
        deals.deal_day,
        deals.status,
        deals.manager,
        deals.service,
        deals.client_key,
        deals.source_type,
        deal_sources.call_duration_seconds,
        deals.utm_source,
        deals.utm_medium,
        deals.utm_campaign,
        deals.has_visit,
        deals.planned_amount,
        deals.completed_amount,
        deals.revenue,
        deals.is_deleted,
        deals.is_removed_from_source,
        deals.is_counted,
        tags_per_deal.tags,
        cast(coalesce(tags_per_deal.tag_count, 0) as integer) as tag_count,
        cast(coalesce(custom_fields_per_deal.custom_field_count, 0) as integer) as custom_field_count,
        deals.changed_at as last_changed_at

    from deals

    left join deal_sources
        on deal_sources.site_id = deals.site_id
        and deal_sources.order_number = deals.order_number

    left join tags_per_deal
        on tags_per_deal.site_id = deals.site_id
        and tags_per_deal.order_number = deals.order_number

    left join custom_fields_per_deal
        on custom_fields_per_deal.site_id = deals.site_id
        and custom_fields_per_deal.order_number = deals.order_number

)

select * from final
