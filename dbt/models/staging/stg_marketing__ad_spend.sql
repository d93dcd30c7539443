select
    site_id,
    spend_date,
    source as spend_source,
    medium as spend_medium,
    campaign as spend_campaign,
    cost,
    currency

from {{ source('marketing', 'ad_spend') }}
