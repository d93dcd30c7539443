select
    site_id,
    order_number,
    field as field_name,
    value as field_value

from {{ source('calltouch', 'custom_fields') }}
