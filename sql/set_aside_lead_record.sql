-- Sets one staged lead aside: PostgreSQL refused to write it (lead-isolation.ts). It stays staged
-- under its id and day, so that it still counts as returned by the API (its lead is not marked
-- removed), but with the reason, loadable by no statement but insert_rejected_lead_records: its
-- record becomes {} and its text is kept apart, without the contacts the mode does not keep
-- (callerNumber and client are left out in modes hash and drop, as protect_staged_lead_contacts
-- would have changed or removed them).
-- $1 the staged record's place, $2 the reason, $3 the contact mode ('keep', 'hash' or 'drop').
update pg_temp.lead_records r
set reason = $2::text,
  record_text = case when $3::text = 'keep' or jsonb_typeof(r.record) <> 'object' then r.record::text
    else (r.record - 'callerNumber' - 'client')::text end,
  record = '{}'::jsonb
where r.record_no = $1::bigint
