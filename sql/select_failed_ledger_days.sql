-- Days of one source's account whose last read failed, with why. $1 source, $2 account.
select to_char(day, 'YYYY-MM-DD') as day, error, attempts, last_extracted_at
from etl.ledger
where source = $1 and account = $2 and status = 'failed'
order by day
