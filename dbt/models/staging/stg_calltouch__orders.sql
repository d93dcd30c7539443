select
    site_id,
    order_number,
    order_id,
    order_date as ordered_at,
    order_day,
    created_date,
    completed_date,
    status,
    manager,
    service,
    client_key,
    order_origin,
    source_type,
    planned_amount,
    completed_amount,
    is_deleted,
    removed_from_source_at,
    last_changed_at,
    last_seen_at

from {{ source('calltouch', 'orders') }}
