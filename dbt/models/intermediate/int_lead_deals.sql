with

linked_deals as (

    select * from {{ ref('int_deals_linked_to_leads') }}

),

counted as (

    select
        *,
        row_number() over (
            partition by lead_key
            order by ordered_at, order_day, order_number collate "C"
        ) as deal_order

    from linked_deals

    where lead_key is not null and is_counted

),

final as (

    select
        lead_key,
        cast(count(*) as integer) as deals,
        cast(count(*) filter (where revenue > 0) as integer) as deals_with_revenue,
        cast(sum(revenue) as numeric(18, 2)) as revenue,
        max(case when deal_order = 1 then deal_key end) as first_deal_key,
        max(case when deal_order = 1 then order_number end) as first_order_number,
        max(case when deal_order = 1 then order_day end) as first_deal_day,
        string_agg(order_number, ', ' order by deal_order) as order_numbers

    from counted

    group by lead_key

)

select * from final
