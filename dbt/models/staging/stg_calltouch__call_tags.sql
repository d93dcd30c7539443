select
    site_id,
    call_id,
    category as tag_category,
    type as tag_type,
    tag

from {{ source('calltouch', 'call_tags') }}
