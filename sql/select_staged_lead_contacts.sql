-- The distinct contacts of the staged leads (pg_temp.lead_records), for the loader to key and hash
-- (core/pii.ts): kind 'phone' for a call's callerNumber and a request's client.phones[].phoneNumber
-- (always: client_key needs them), and in mode hash kind 'text' for a request's client.fio and
-- client.contacts[].contactValue (e-mails and the like).
-- $1 contact mode ('keep', 'hash' or 'drop').
with contacts as (
  select 'phone' as kind, r.record ->> 'callerNumber' as value
  from pg_temp.lead_records r
  where jsonb_typeof(r.record -> 'callerNumber') in ('string', 'number')
  union all
  select 'phone', p.value ->> 'phoneNumber'
  from pg_temp.lead_records r
  cross join lateral jsonb_array_elements(case when jsonb_typeof(r.record -> 'client' -> 'phones') = 'array'
    then r.record -> 'client' -> 'phones' else '[]'::jsonb end) as p
  where jsonb_typeof(p.value -> 'phoneNumber') in ('string', 'number')
  union all
  select 'text', r.record -> 'client' ->> 'fio'
  from pg_temp.lead_records r
  where $1::text = 'hash' and jsonb_typeof(r.record -> 'client' -> 'fio') in ('string', 'number')
  union all
  select 'text', c.value ->> 'contactValue'
  from pg_temp.lead_records r
  cross join lateral jsonb_array_elements(case when jsonb_typeof(r.record -> 'client' -> 'contacts') = 'array'
    then r.record -> 'client' -> 'contacts' else '[]'::jsonb end) as c
  where $1::text = 'hash' and jsonb_typeof(c.value -> 'contactValue') in ('string', 'number')
)
select distinct kind, value from contacts where value is not null
