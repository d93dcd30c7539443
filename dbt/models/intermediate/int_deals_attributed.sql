with

orders as (

    select * from {{ ref('stg_calltouch__orders') }}

),

visits as (

    select * from {{ ref('stg_calltouch__visits') }}

),

attributed as (

    select
        orders.site_id,
        orders.order_number,
        cast(orders.site_id as text) || ':' || orders.order_number as deal_key,
        orders.ordered_at,
        orders.order_day,
        orders.completed_date,
        orders.{{ revenue_date_column() }} as deal_day,
        orders.status,
        orders.manager,
        orders.service,
        orders.client_key,
        orders.source_type,
        {{ channel_key('visits.utm_source', 'visits.visit_source') }} as utm_source,
        {{ channel_key('visits.utm_medium', 'visits.visit_medium') }} as utm_medium,
        {{ channel_key('visits.utm_campaign') }} as utm_campaign,
        visits.order_number is not null as has_visit,
        orders.planned_amount,
        orders.completed_amount,
        orders.is_deleted,
        orders.removed_from_source_at is not null as is_removed_from_source,
        not orders.is_deleted and orders.removed_from_source_at is null as is_counted,
        case
            when not orders.is_deleted
                and orders.removed_from_source_at is null
                and orders.completed_amount is not null
                then orders.completed_amount
            else 0
        end as revenue,
        -- Every load that can change the deal's row in a mart moves one of these three:
        -- a new version (last_changed_at), marked removed (removed_from_source_at), back
        -- after removal (last_seen_at). The incremental marts read only deals changed since.
        greatest(orders.last_changed_at, orders.removed_from_source_at, orders.last_seen_at) as changed_at

    from orders

    left join visits
        on visits.site_id = orders.site_id
        and visits.order_number = orders.order_number

)

select * from attributed
