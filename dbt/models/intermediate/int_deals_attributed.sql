-- One select, without a with-clause, so that PostgreSQL merges the view into the query that reads
-- it: an incremental model reading a few deals reaches them and their visits by index.
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
    -- A new version (with its visit, source, tags and custom values) moves last_changed_at,
    -- removal from the source sets removed_from_source_at. Back after removal moves only
    -- last_seen_at, which every read of the deal's day moves too: int_deals_linked_to_leads
    -- tells that apart by what it built last time.
    greatest(orders.last_changed_at, orders.removed_from_source_at) as changed_at,
    orders.last_seen_at

from {{ ref('stg_calltouch__orders') }} as orders

left join {{ ref('stg_calltouch__visits') }} as visits
    on visits.site_id = orders.site_id
    and visits.order_number = orders.order_number
