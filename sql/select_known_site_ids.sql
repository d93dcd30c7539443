-- Every site the warehouse has heard of, configured or not.
select site_id from etl.site_days
union
select site_id from etl.rejected_records
union
select site_id from calltouch.orders
order by site_id
