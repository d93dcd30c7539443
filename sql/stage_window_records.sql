-- Parses a window's page bodies and stages the in-window records they hold, each with its page
-- and place, so that delete_superseded_records can keep the latest read of a deal that came twice.
-- $1 page bodies as the elements of a JSON array: one body's text, or the texts of consecutive
-- pages joined by commas (never re-serialized), $2 first day,
-- $3 last day ('YYYY-MM-DD', inclusive), $4 number of pages staged before these.
-- A record whose orderDate has no dd/mm/yyyy day is kept (it is rejected later, not dropped).
-- A plain insert: a unique key with ON CONFLICT, and the sort that fed it, cost more than half of
-- this statement. Returns the pages parsed and the ordinals of pages whose "records" is not a list,
-- so the caller can refuse a body it cannot trust.
with pages as (
  select p.body, $4::integer + p.page_no::integer as page_no
  from jsonb_array_elements(('[' || $1::text || ']')::jsonb) with ordinality as p(body, page_no)
),
records as (
  select pg.page_no, r.record_no, r.record, k.order_number, k.record_day
  from pages pg
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(pg.body -> 'records') = 'array' then pg.body -> 'records' else '[]'::jsonb end
  ) with ordinality as r(record, record_no)
  -- Each field is read out of the record once (OFFSET 0 keeps the subqueries whole): inlined,
  -- every use of a name would look it up again.
  cross join lateral (
    select jsonb_typeof(r.record -> 'orderNumber') as order_number_type, r.record ->> 'orderNumber' as order_number_text,
      r.record ->> 'orderDate' as order_date_text
    offset 0
  ) as f
  cross join lateral (
    select
      case when f.order_number_type in ('string', 'number') and btrim(f.order_number_text) <> '' then f.order_number_text end as order_number,
      case when f.order_date_text ~ '^[0-9]{2}/[0-9]{2}/[0-9]{4}'
        then substr(f.order_date_text, 7, 4) || '-' || substr(f.order_date_text, 4, 2) || '-' || substr(f.order_date_text, 1, 2)
      end as record_day
    offset 0
  ) as k
),
staged as (
  insert into pg_temp.load_records (order_number, record, record_day, payload_hash, page_no, record_no)
  select order_number, record, record_day, md5(record::text), page_no, record_no
  from records
  where record_day is null or record_day between $2::text and $3::text
  returning 1
)
select
  (select count(*)::integer from pages) as pages,
  (select coalesce(array_agg(page_no order by page_no), '{}') from pages
    where coalesce(jsonb_typeof(body -> 'records'), 'missing') not in ('array', 'null')) as bad_pages,
  (select count(*)::integer from staged) as staged
