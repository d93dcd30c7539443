select
    site_id,
    request_id,
    category as tag_category,
    type as tag_type,
    tag

from {{ source('calltouch', 'request_tags') }}
