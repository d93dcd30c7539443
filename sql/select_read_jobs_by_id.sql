-- Where the jobs $2 of the queue $1 stand: what a coordinator follows until each has settled.
select
  id::text as id,
  state::text as state,
  retry_count,
  output
from pgboss.job
where name = $1 and id = any($2::uuid[])
