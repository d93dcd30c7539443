select
    source_system,
    account,
    site_id,
    stat_date,
    campaign_id,
    campaign_name,
    impressions,
    clicks,
    cost_micros,
    cost,
    currency,
    includes_vat

from {{ source('marketing', 'ad_campaign_stats') }}
