-- The distinct contacts of the window's staged records, for the loader to key and hash
-- (core/pii.ts): kind 'phone' for client.phones, and in mode hash for the caller's number
-- orderSource.ani too; kind 'text' in mode hash for every other value of the client object (name,
-- e-mails, fields the API may add), as text (a string's own text, anything else its JSON).
-- Records set aside carry no record to read (protect_set_aside_contacts scrubs their text).
-- $1 contact mode ('keep', 'hash' or 'drop'), $2 the payload_hash of a record set aside.
with contacts as (
  select 'phone' as kind, r.record -> 'client' ->> 'phones' as value
  from pg_temp.load_records r
  where r.payload_hash <> $2::text and jsonb_typeof(r.record -> 'client' -> 'phones') in ('string', 'number')
  union all
  select 'phone', r.record -> 'orderSource' ->> 'ani'
  from pg_temp.load_records r
  where $1::text = 'hash' and r.payload_hash <> $2::text
    and jsonb_typeof(r.record -> 'orderSource' -> 'ani') in ('string', 'number')
  union all
  select 'text', case when jsonb_typeof(f.value) in ('string', 'number') then f.value #>> '{}' else f.value::text end
  from pg_temp.load_records r
  cross join lateral jsonb_each(
    case when jsonb_typeof(r.record -> 'client') = 'object' then r.record -> 'client' else '{}'::jsonb end
  ) as f
  where $1::text = 'hash' and r.payload_hash <> $2::text and f.key <> 'phones' and jsonb_typeof(f.value) <> 'null'
)
select distinct kind, value from contacts where value is not null
