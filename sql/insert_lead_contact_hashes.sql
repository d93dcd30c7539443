-- Stages the keyed hashes the loader computed for the staged leads' contacts
-- (select_staged_lead_contacts), for protect_staged_lead_contacts to look up: per kind and value,
-- what mode hash stores instead of it and, for a phone, the client_key of its first phone.
-- $1 kinds, $2 values, $3 hashed values, $4 client keys (null: no phone): arrays of one length.
insert into pg_temp.lead_contacts (kind, value, hashed, client_key)
select c.kind, c.value, c.hashed, c.client_key
from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as c(kind, value, hashed, client_key)
