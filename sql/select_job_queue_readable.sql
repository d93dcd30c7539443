-- Whether this login can read the jobs of `sync --distributed` (pg-boss's schema, pgboss): false on
-- a warehouse that never ran one (or the embedded one), and for a login without the grant.
select case
    when to_regclass('pgboss.job') is null then false
    else has_table_privilege('pgboss.job', 'select')
  end as readable
