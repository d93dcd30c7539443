-- Records an ad account a sync reads and the channel keys its spend stands for; a row whose
-- values are unchanged is not touched.
-- $1 source system, $2 account, $3 site id, $4 utm_source, $5 utm_medium, $6 what utm_campaign
-- holds ('id' or 'name'), $7 currency.
insert into marketing.ad_accounts as a (source_system, account, site_id, utm_source, utm_medium, utm_campaign_holds, currency)
values ($1::text, $2::text, $3::integer, $4::text, $5::text, $6::text, $7::text)
on conflict (source_system, account) do update set
  site_id = excluded.site_id,
  utm_source = excluded.utm_source,
  utm_medium = excluded.utm_medium,
  utm_campaign_holds = excluded.utm_campaign_holds,
  currency = excluded.currency,
  updated_at = now()
where (a.site_id, a.utm_source, a.utm_medium, a.utm_campaign_holds, a.currency)
  is distinct from
  (excluded.site_id, excluded.utm_source, excluded.utm_medium, excluded.utm_campaign_holds, excluded.currency)
