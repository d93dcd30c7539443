-- Every site the warehouse holds deals or rejected records of (the ledger's sites are
-- etl.ledger's accounts of calltouch-deals).
select site_id from etl.rejected_records
union
select site_id from calltouch.orders
order by site_id
