-- Sets one staged record aside: PostgreSQL refused it. It stays staged, under its key and day, so
-- that it still counts as returned by the API (its deal is not marked removed, the day counts it,
-- and it supersedes an earlier read of the deal), but its payload is replaced by the reason and
-- its text, and its payload_hash by the mark that keeps it out of every write
-- (delete_set_aside_changes) but etl.rejected_records (insert_set_aside_records).
-- $1, $2 page and place of the staged row, $3, $4 its page and place from now on,
-- $5 the reason, $6 the record's text (null: the staged payload's), $7 the orderNumber to report
-- when the row has no key (null: none), $8 the payload_hash of a record set aside.
update pg_temp.load_records r
set page_no = $3::integer,
  record_no = $4::bigint,
  payload_hash = $8::text,
  record = jsonb_build_object('reason', $5::text, 'text', coalesce($6::text, r.record::text), 'orderNumber', coalesce(r.order_number, $7::text))
where r.page_no = $1::integer and r.record_no = $2::bigint
