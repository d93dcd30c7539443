-- Applies the contact mode to the window's staged records before anything is compared or written,
-- so that no table (raw payloads included) ever receives more than the mode allows:
-- every record gets the client_key of its client.phones (pg_temp.load_contacts); in mode hash each
-- value of its client object and its orderSource.ani is replaced by its keyed hash, in mode drop
-- the client object and orderSource.ani are removed. The payload_hash follows the payload, so an
-- unchanged deal compares equal to the version stored under the same mode and key.
-- $1 contact mode ('keep', 'hash' or 'drop'), $2 the payload_hash of a record set aside.
update pg_temp.load_records r
set (client_key, record, payload_hash) = (
  select k.client_key, p.record, case when $1::text = 'keep' then r.payload_hash else md5(p.record::text) end
  from (
    select (
      select c.client_key from pg_temp.load_contacts c
      where c.kind = 'phone' and c.value = r.record -> 'client' ->> 'phones'
    ) as client_key
  ) as k
  cross join lateral (
    select case $1::text
      when 'drop' then
        case when jsonb_typeof(r.record -> 'orderSource') = 'object'
          then jsonb_set(r.record - 'client', '{orderSource}', (r.record -> 'orderSource') - 'ani')
          else r.record - 'client'
        end
      when 'hash' then (
        select case when jsonb_typeof(h.record -> 'orderSource' -> 'ani') in ('string', 'number')
          then jsonb_set(h.record, '{orderSource,ani}', coalesce(to_jsonb((
            select c.hashed from pg_temp.load_contacts c
            where c.kind = 'phone' and c.value = h.record -> 'orderSource' ->> 'ani'
          )), 'null'::jsonb))
          else h.record
        end
        from (
          select case when jsonb_typeof(r.record -> 'client') = 'object'
            then jsonb_set(r.record, '{client}', (
              select coalesce(jsonb_object_agg(f.key, case when jsonb_typeof(f.value) = 'null' then f.value
                else coalesce(to_jsonb((
                  select c.hashed from pg_temp.load_contacts c
                  where c.kind = case when f.key = 'phones' then 'phone' else 'text' end
                    and c.value = case when jsonb_typeof(f.value) in ('string', 'number') then f.value #>> '{}' else f.value::text end
                )), 'null'::jsonb) end), '{}'::jsonb)
              from jsonb_each(r.record -> 'client') as f
            ))
            else r.record
          end as record
        ) as h
      )
      else r.record
    end as record
  ) as p
)
where r.payload_hash <> $2::text and jsonb_typeof(r.record) = 'object'
