-- The staged records of the window that are not set aside, by page and place in read order: what
-- the isolating load tries the window's statements on, part by part.
-- $1 the payload_hash of a record set aside.
select r.page_no, r.record_no
from pg_temp.load_records r
where r.payload_hash <> $1::text
order by r.page_no, r.record_no
