-- Keeps one staged record per lead, the last read, when a read was staged a body at a time (the
-- isolating load, lead-isolation.ts); stage_call_records and stage_request_records do the same
-- within one statement. Records with a reason are never superseded and supersede nothing, as there.
delete from pg_temp.lead_records r
where r.reason is null
  and exists (
    select 1 from pg_temp.lead_records s
    where s.reason is null and s.lead_id = r.lead_id and s.record_no > r.record_no
  )
