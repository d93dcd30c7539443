-- The places of the staged records of a leads read, in read order: what the isolating load
-- (lead-isolation.ts) tries the read's writes on, part by part.
select r.record_no from pg_temp.lead_records r order by r.record_no
