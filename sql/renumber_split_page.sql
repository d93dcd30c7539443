-- A page PostgreSQL refused whole is staged again without the records it refused: gives the
-- records staged from it their places in the page as received (1-based), so that the later read
-- of a deal still wins (delete_superseded_records compares page and place).
-- $1 page, $2 the place in the page of each staged record, in staging order.
update pg_temp.load_records r
set record_no = ($2::bigint[])[r.record_no]
where r.page_no = $1::integer
