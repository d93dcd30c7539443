-- A trial of the isolating load (lead-isolation.ts): keeps only the staged records from one place
-- to another, in read order, so that the read's writes can be tried on part of it. Run under a
-- savepoint that is rolled back right after.
-- $1 place of the first record kept, $2 of the last (a last before the first keeps none).
delete from pg_temp.lead_records r
where r.record_no < $1::bigint or r.record_no > $2::bigint
