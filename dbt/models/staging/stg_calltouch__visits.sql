select
    site_id,
    order_number,
    visit_time as visited_at,
    source as visit_source,
    medium as visit_medium,
    keyword,
    utm_source,
    utm_medium,
    utm_campaign,
    utm_content,
    utm_term

from {{ source('calltouch', 'visits') }}
