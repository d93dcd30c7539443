-- Jobs of the queue $1 by state (created, retry, active, completed, cancelled, failed), as pg-boss
-- keeps them until it archives them.
select state::text as state, count(*)::int as jobs
from pgboss.job
where name = $1
group by state
