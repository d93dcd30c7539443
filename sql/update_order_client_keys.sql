-- Gives deals loaded before client keys existed the client_key of their phones, computed by the
-- loader (core/pii.ts) for each distinct phone field. Returns how many deals got one.
-- $1 phone fields, $2 their client keys (null: no phone in it): arrays of one length.
with keyed as (
  update calltouch.orders o
  set client_key = k.client_key
  from unnest($1::text[], $2::text[]) as k(phones, client_key)
  where o.client_key is null and o.client_phones = k.phones and k.client_key is not null
  returning 1
)
select count(*)::integer as keyed from keyed
