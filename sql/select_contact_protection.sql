-- The contact mode and PII key fingerprint the warehouse's deals were loaded under (none before
-- the first load that knew them), and whether it holds deals at all.
select p.mode, p.key_fingerprint, exists (select from calltouch.orders) as has_deals
from (select) as one
left join etl.contact_protection p on true
