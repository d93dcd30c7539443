import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go into new migrations.
//
// Deal keys (order_number) compare byte by byte (collation "C") instead of by the database's
// locale. Every window's load compares keys in the b-trees of six tables and sorts them; under a
// locale each comparison goes through strcoll, and PostgreSQL 15 turns off abbreviated sort keys
// for libc locales. Measured on the load bench, a first load took ~9 % less CPU a deal on a
// C.UTF-8 database (more on locales whose strcoll is dearer). Keys are ids, so nothing is lost:
// equality is the same in any deterministic collation, and a column of the "C" collation joins
// with columns of the default one (the non-default collation wins). Only ORDER BY order_number
// (and upper/lower on it) may differ, on databases whose locale is not C.
//
// A column that a view reads cannot change its collation, and after a transform the dbt staging
// views read these columns (so may an analyst's own views). Those views, and the views built on
// them, are kept: their definitions, owners, options, comments and grants are saved, they are
// dropped, the columns changed, and they are created again in the order they depend on each other.

const KEY_COLUMNS = [
  'raw.calltouch_orders',
  'calltouch.orders',
  'calltouch.sources',
  'calltouch.visits',
  'calltouch.custom_fields',
  'calltouch.tags',
] as const

/** Sets the collation of every order_number column of KEY_COLUMNS, keeping the views that read them. */
function setKeyCollation(collation: 'C' | 'default'): string {
  const tables = KEY_COLUMNS.map((table) => `'${table}'::regclass`).join(', ')
  const alters = KEY_COLUMNS.map(
    (table) => `alter table ${table} alter column order_number type text collate "${collation}";`,
  ).join('\n    ')
  return `
do $migration$
declare
  saved record;
  command text;
begin
  create temp table migration_saved_views on commit drop as
  with recursive dependents (view_oid, depth) as (
    select r.ev_class, 1
    from pg_depend d
    join pg_rewrite r on r.oid = d.objid
    join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
    where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
      and d.refobjid in (${tables}) and a.attname = 'order_number' and r.ev_class <> d.refobjid
    union
    select r.ev_class, dependents.depth + 1
    from dependents
    join pg_depend d on d.refobjid = dependents.view_oid and d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
    join pg_rewrite r on r.oid = d.objid
    where r.ev_class <> dependents.view_oid
  )
  select c.oid as view_oid, max(dependents.depth) as depth,
    format('%I.%I', n.nspname, c.relname) as name,
    case c.relkind when 'm' then 'materialized view' else 'view' end as kind,
    pg_get_viewdef(c.oid) as definition,
    pg_get_userbyid(c.relowner) as owner,
    c.reloptions as options,
    obj_description(c.oid, 'pg_class') as description,
    (select coalesce(array_agg(format('comment on column %I.%I.%I is %L', n.nspname, c.relname, a.attname, col_description(c.oid, a.attnum))), '{}')
      from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and col_description(c.oid, a.attnum) is not null) as column_comments,
    (select coalesce(array_agg(format('grant %s on %I.%I to %s%s', g.privilege_type, n.nspname, c.relname,
        case g.grantee when 0 then 'public' else quote_ident(pg_get_userbyid(g.grantee)) end,
        case when g.is_grantable then ' with grant option' else '' end)), '{}')
      from aclexplode(c.relacl) g where g.grantee <> c.relowner) as grants
  from dependents
  join pg_class c on c.oid = dependents.view_oid
  join pg_namespace n on n.oid = c.relnamespace
  -- A rule of another table on these columns is not a view: the alter below then fails with
  -- PostgreSQL's own message, rather than the table being dropped.
  where c.relkind in ('v', 'm')
  group by c.oid, n.nspname, c.relname, c.relkind, c.relowner, c.reloptions;

  for saved in select * from migration_saved_views order by depth desc loop
    execute format('drop %s if exists %s cascade', saved.kind, saved.name);
  end loop;

  ${alters}

  for saved in select * from migration_saved_views order by depth, name loop
    execute format('create %s %s%s as %s', saved.kind, saved.name,
      case when saved.options is null then '' else format(' with (%s)', array_to_string(saved.options, ', ')) end,
      rtrim(saved.definition, ';'));
    execute format('alter %s %s owner to %I', saved.kind, saved.name, saved.owner);
    if saved.description is not null then
      execute format('comment on %s %s is %L', saved.kind, saved.name, saved.description);
    end if;
    foreach command in array saved.column_comments || saved.grants loop
      execute command;
    end loop;
  end loop;
end
$migration$`
}

export async function up(db: Kysely<any>): Promise<void> {
  await sql.raw(setKeyCollation('C')).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql.raw(setKeyCollation('default')).execute(db)
}
