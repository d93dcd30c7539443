-- The ad accounts the connectors read, for the spend matching of `calltouch-etl status`, in a
-- fixed order (site, source system, account).
select
  source_system,
  account,
  site_id,
  utm_source,
  utm_medium,
  utm_campaign_holds,
  currency
from marketing.ad_accounts
order by site_id, source_system, account collate "C"
