select
    source_system,
    account,
    site_id,
    utm_source as account_utm_source,
    utm_medium as account_utm_medium,
    utm_campaign_holds,
    currency

from {{ source('marketing', 'ad_accounts') }}
