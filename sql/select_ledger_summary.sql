-- How far one source's account has been read, for `calltouch-etl status`: the newest day read
-- completely, and the latest complete read of any day with its run. $1 source, $2 account.
with last_success as (
  select run_id, last_succeeded_at
  from etl.ledger
  where source = $1 and account = $2 and last_succeeded_at is not null
  order by last_succeeded_at desc, day desc
  limit 1
)
select
  (select to_char(max(day), 'YYYY-MM-DD') from etl.ledger where source = $1 and account = $2 and status = 'ok') as newest_ok_day,
  (select last_succeeded_at from last_success) as last_succeeded_at,
  (select run_id::text from last_success) as last_success_run_id
