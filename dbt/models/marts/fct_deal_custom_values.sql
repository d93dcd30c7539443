with

custom_fields as (

    select * from {{ ref('stg_calltouch__custom_fields') }}

),

deals as (

    select * from {{ ref('int_deals_attributed') }}

),

final as (

    select
        deals.deal_key,
        custom_fields.site_id,
        custom_fields.order_number,
        custom_fields.field_name,
        custom_fields.field_value,
        deals.deal_day,
        deals.status,
        deals.manager,
        deals.utm_source,
        deals.utm_medium,
        deals.utm_campaign,
        deals.revenue,
        deals.is_counted

    from custom_fields

    inner join deals
        on deals.site_id = custom_fields.site_id
        and deals.order_number = custom_fields.order_number

)

select * from final
