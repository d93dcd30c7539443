-- The distinct phone fields of deals that have a phone but no client_key: deals loaded before
-- client keys existed, whose phones a mode keep warehouse still holds.
select distinct o.client_phones as phones
from calltouch.orders o
where o.client_key is null and o.client_phones is not null
