select
    source_system,
    account,
    campaign_id,
    campaign_name,
    first_seen_at

from {{ source('marketing', 'ad_campaign_names') }}
