-- Keeps one staged record per deal: the one read last (a later page, or later in its page). A deal
-- comes twice when it moved between pages while they were read. Records without an orderNumber
-- are each kept, to be rejected.
delete from pg_temp.load_records r
where r.order_number is not null
  and exists (
    select 1 from pg_temp.load_records later
    where later.order_number = r.order_number
      and (later.page_no, later.record_no) > (r.page_no, r.record_no)
  )
