-- The jobs of the queue $1 that are queued, running, or failed in the last $2 hours, oldest
-- first: what `status` lists, and why each failed (pg-boss keeps the error in output).
select
  id::text as id,
  state::text as state,
  singleton_key as key,
  data ->> 'runId' as run_id,
  retry_count,
  retry_limit,
  started_on,
  completed_on,
  output ->> 'message' as error
from pgboss.job
where name = $1
  and (state in ('created', 'retry', 'active') or (state = 'failed' and completed_on > now() - $2 * interval '1 hour'))
order by created_on, singleton_key
limit 200
