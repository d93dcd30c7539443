-- A trial of the isolating load (pipelines/sources/calltouch-deals/load-isolation.ts): keeps only the staged
-- records from one place to another, in read order (page, place in page), and the records already
-- set aside, so that the window's statements can be tried on part of the window. Run under a
-- savepoint that is rolled back right after.
-- $1, $2 page and place of the first record kept, $3, $4 of the last, $5 the payload_hash of a
-- record set aside.
delete from pg_temp.load_records r
where r.payload_hash <> $5::text
  and ((r.page_no, r.record_no) < ($1::integer, $2::bigint) or (r.page_no, r.record_no) > ($3::integer, $4::bigint))
