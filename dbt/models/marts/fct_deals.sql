{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='deal_key',
        indexes=[
            {'columns': ['deal_key'], 'unique': true},
            {'columns': ['site_id', 'deal_day']},
            {'columns': ['last_changed_at']}
        ],
        post_hook="{{ enforce_not_null(this, ['deal_key', 'site_id', 'order_number', 'utm_source', 'utm_medium', 'utm_campaign', 'revenue']) }}"
    )
}}

-- depends_on: {{ ref('int_deals_linked_to_leads') }}

with

{% if is_incremental() %}
changed as (

    select site_id, order_number
    from {{ ref('int_deals_linked_to_leads') }}
    where changed_at > (select coalesce(max(last_changed_at), cast('-infinity' as timestamptz)) from {{ this }})

),
{% endif %}

deals as (

    select * from {{ ref('int_deals_attributed') }}
    {% if is_incremental() %}
    -- Only the deals changed since this table's last build, as int_deals_linked_to_leads tells
    -- them (a new version, removal, back after removal): a deal's visit, source, tags and custom
    -- values are replaced only with a new version.
    -- As arrays, so the deals are read by key (a few of all); another site's deal of the same
    -- number may come along, and is built as it is.
    where site_id = any(array(select distinct site_id from changed))
        and order_number = any(array(select order_number from changed))
    {% endif %}

),

{% if not is_incremental() %}
tags_per_deal as (

    select
        site_id,
        order_number,
        string_agg(tag, ', ' order by tag) as tags,
        count(*) as tag_count

    from {{ ref('stg_calltouch__tags') }}

    group by site_id, order_number

),

custom_fields_per_deal as (

    select
        site_id,
        order_number,
        count(*) as custom_field_count

    from {{ ref('stg_calltouch__custom_fields') }}

    group by site_id, order_number

),
{% endif %}

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

    left join {{ ref('stg_calltouch__sources') }} as deal_sources
        on deal_sources.site_id = deals.site_id
        and deal_sources.order_number = deals.order_number

    {% if is_incremental() %}
    -- A few deals: the tags and custom values of each are read by its key.
    left join lateral (
        select
            string_agg(tags.tag, ', ' order by tags.tag) as tags,
            count(*) as tag_count
        from {{ ref('stg_calltouch__tags') }} as tags
        where tags.site_id = deals.site_id
            and tags.order_number = deals.order_number
    ) as tags_per_deal on true

    left join lateral (
        select count(*) as custom_field_count
        from {{ ref('stg_calltouch__custom_fields') }} as custom_fields
        where custom_fields.site_id = deals.site_id
            and custom_fields.order_number = deals.order_number
    ) as custom_fields_per_deal on true
    {% else %}
    left join tags_per_deal
        on tags_per_deal.site_id = deals.site_id
        and tags_per_deal.order_number = deals.order_number

    left join custom_fields_per_deal
        on custom_fields_per_deal.site_id = deals.site_id
        and custom_fields_per_deal.order_number = deals.order_number
    {% endif %}

)

select * from final
