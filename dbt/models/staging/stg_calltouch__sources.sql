select
    site_id,
    order_number,
    source_type,
    call_id,
    duration_seconds as call_duration_seconds,
    phone_number as tracking_phone_number,
    call_time as called_at,
    request_number

from {{ source('calltouch', 'sources') }}
