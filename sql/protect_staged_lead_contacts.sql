-- Applies the contact mode to the staged leads before anything is compared or written, so that no
-- table (raw payloads and etl.rejected_records included) receives more than the mode allows, as
-- protect_staged_contacts does for deals: every lead gets the client_key of its caller's number
-- (calls) or first client phone (requests); in mode hash callerNumber, client.fio,
-- client.phones[].phoneNumber and client.contacts[].contactValue are replaced by their keyed
-- hashes, in mode drop they are removed (client.clientId, Calltouch's id, stays). The payload_hash
-- follows the payload, so an unchanged lead compares equal to the version stored under the same mode.
-- $1 contact mode ('keep', 'hash' or 'drop').
update pg_temp.lead_records r
set (client_key, record, payload_hash) = (
  select k.client_key, p.record, case when $1::text = 'keep' then r.payload_hash else md5(p.record::text) end
  from (
    select (
      select c.client_key from pg_temp.lead_contacts c
      where c.kind = 'phone'
        and c.value = coalesce(r.record ->> 'callerNumber', r.record -> 'client' -> 'phones' -> 0 ->> 'phoneNumber')
    ) as client_key
  ) as k
  cross join lateral (
    select case $1::text
      when 'drop' then
        case when jsonb_typeof(r.record -> 'client') = 'object'
          then jsonb_set(r.record - 'callerNumber', '{client}', (r.record -> 'client') - 'fio' - 'phones' - 'contacts')
          else r.record - 'callerNumber'
        end
      when 'hash' then (
        select case when jsonb_typeof(h.record -> 'client') = 'object'
          then jsonb_set(h.record, '{client}', (h.record -> 'client')
            || case when jsonb_typeof(h.record -> 'client' -> 'fio') in ('string', 'number')
              then jsonb_build_object('fio', coalesce(to_jsonb((
                select c.hashed from pg_temp.lead_contacts c where c.kind = 'text' and c.value = h.record -> 'client' ->> 'fio'
              )), 'null'::jsonb))
              else '{}'::jsonb end
            || case when jsonb_typeof(h.record -> 'client' -> 'phones') = 'array'
              then jsonb_build_object('phones', (
                select coalesce(jsonb_agg(case when jsonb_typeof(e.value -> 'phoneNumber') in ('string', 'number')
                  then jsonb_set(e.value, '{phoneNumber}', coalesce(to_jsonb((
                    select c.hashed from pg_temp.lead_contacts c where c.kind = 'phone' and c.value = e.value ->> 'phoneNumber'
                  )), 'null'::jsonb))
                  else e.value end order by e.ord), '[]'::jsonb)
                from jsonb_array_elements(h.record -> 'client' -> 'phones') with ordinality as e(value, ord)
              ))
              else '{}'::jsonb end
            || case when jsonb_typeof(h.record -> 'client' -> 'contacts') = 'array'
              then jsonb_build_object('contacts', (
                select coalesce(jsonb_agg(case when jsonb_typeof(e.value -> 'contactValue') in ('string', 'number')
                  then jsonb_set(e.value, '{contactValue}', coalesce(to_jsonb((
                    select c.hashed from pg_temp.lead_contacts c where c.kind = 'text' and c.value = e.value ->> 'contactValue'
                  )), 'null'::jsonb))
                  else e.value end order by e.ord), '[]'::jsonb)
                from jsonb_array_elements(h.record -> 'client' -> 'contacts') with ordinality as e(value, ord)
              ))
              else '{}'::jsonb end)
          else h.record
        end
        from (
          select case when jsonb_typeof(r.record -> 'callerNumber') in ('string', 'number')
            then jsonb_set(r.record, '{callerNumber}', coalesce(to_jsonb((
              select c.hashed from pg_temp.lead_contacts c where c.kind = 'phone' and c.value = r.record ->> 'callerNumber'
            )), 'null'::jsonb))
            else r.record
          end as record
        ) as h
      )
      else r.record
    end as record
  ) as p
)
where jsonb_typeof(r.record) = 'object'
