select
    site_id,
    order_number,
    tag

from {{ source('calltouch', 'tags') }}
