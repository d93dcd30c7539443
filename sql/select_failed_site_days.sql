-- Days of one site whose last read failed, with why. $1 site_id.
select to_char(day, 'YYYY-MM-DD') as day, error, attempts, last_extracted_at
from etl.site_days
where site_id = $1 and status = 'failed'
order by day
