{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='deal_key',
        indexes=[
            {'columns': ['deal_key']},
            {'columns': ['last_changed_at']}
        ],
        post_hook=[
            "delete from {{ this }} where field_name is null",
            "{{ enforce_not_null(this, ['deal_key', 'site_id', 'order_number']) }}"
        ]
    )
}}

-- depends_on: {{ ref('int_deals_linked_to_leads') }}

with

deals as (

    select * from {{ ref('fct_deals') }}
    {% if is_incremental() %}
    -- Only the deals changed since this table's last build, as int_deals_linked_to_leads tells
    -- them: a deal's custom values are replaced only with a new version, its other columns here
    -- are fct_deals'.
    where deal_key = any(array(
        select deal_key
        from {{ ref('int_deals_linked_to_leads') }}
        where changed_at > (select coalesce(max(last_changed_at), cast('-infinity' as timestamptz)) from {{ this }})
    ))
    {% endif %}

),

final as (

    select
        deals.deal_key,
        deals.site_id,
        deals.order_number,
        custom_fields.field_name,
        custom_fields.field_value,
        deals.deal_day,
        deals.status,
        deals.manager,
        deals.utm_source,
        deals.utm_medium,
        deals.utm_campaign,
        deals.revenue,
        deals.is_counted,
        deals.last_changed_at

    from deals

    {% if is_incremental() %}
    -- A deal left without custom values keeps one row without a field, so that delete+insert
    -- deletes its old rows too; the post_hook deletes that row.
    left join {{ ref('stg_calltouch__custom_fields') }} as custom_fields
    {% else %}
    inner join {{ ref('stg_calltouch__custom_fields') }} as custom_fields
    {% endif %}
        on custom_fields.site_id = deals.site_id
        and custom_fields.order_number = deals.order_number

)

select * from final
