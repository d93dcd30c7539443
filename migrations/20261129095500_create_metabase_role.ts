import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go into new migrations.
//
// The read-only role Metabase (or any analyst tool) connects as: it reads the
// analytics marts and the normalized calltouch tables, and nothing else — not
// raw payloads, not the pipeline's bookkeeping, not marketing inputs — and it
// can write nowhere.
//
// Roles belong to the whole PostgreSQL server, not to one database, so several
// warehouses on one server (or tests running side by side) share it:
// - up creates it only when missing, and tolerates another database's
//   migration creating it at the same moment;
// - a user without CREATEROLE (common on managed servers) gets the rest of the
//   schema anyway: up then only grants, and only if a DBA created the role;
// - down revokes what this database granted, and drops the role only when
//   nothing else uses it: no grants left in any database, no member roles (a
//   Metabase login granted it) and no login of its own (someone gave it a
//   password).
// Privileges on tables created later (dbt rebuilding analytics, new calltouch
// tables) come from default privileges of the role that runs this migration,
// which is the role every command and the transform connect as.

const ROLE = 'calltouch_metabase'
const READABLE_SCHEMAS = 'analytics, calltouch'

const UP = `
do $migration$
begin
  if not exists (select from pg_roles where rolname = '${ROLE}') then
    if not exists (select from pg_roles where rolname = current_user and (rolsuper or rolcreaterole)) then
      raise notice '${ROLE} not created: % may not create roles; a DBA can run "create role ${ROLE} nologin" and the grants in README', current_user;
      return;
    end if;
    begin
      create role ${ROLE} nologin;
    exception when duplicate_object or unique_violation then
      -- another database on this server created it just now
      null;
    end;
    comment on role ${ROLE} is 'Read-only access for Metabase: select on schemas analytics and calltouch, nothing else; grant it to a login role (see README, Metabase)';
  end if;
  -- PUBLIC usually has CONNECT already; granting it too keeps working where a DBA revoked that.
  if has_database_privilege(current_database(), 'CONNECT WITH GRANT OPTION') then
    execute format('grant connect on database %I to ${ROLE}', current_database());
  end if;
  grant usage on schema ${READABLE_SCHEMAS} to ${ROLE};
  grant select on all tables in schema ${READABLE_SCHEMAS} to ${ROLE};
  alter default privileges in schema ${READABLE_SCHEMAS} grant select on tables to ${ROLE};
end
$migration$`

const DOWN = `
do $migration$
declare
  role_oid oid := (select oid from pg_roles where rolname = '${ROLE}');
begin
  if role_oid is null then
    return;
  end if;
  alter default privileges in schema ${READABLE_SCHEMAS} revoke select on tables from ${ROLE};
  revoke select on all tables in schema ${READABLE_SCHEMAS} from ${ROLE};
  revoke usage on schema ${READABLE_SCHEMAS} from ${ROLE};
  execute format('revoke connect on database %I from ${ROLE}', current_database());
  if exists (select from pg_shdepend where refclassid = 'pg_authid'::regclass and refobjid = role_oid)
    or exists (select from pg_auth_members where roleid = role_oid)
    or exists (select from pg_roles where oid = role_oid and rolcanlogin) then
    return;
  end if;
  begin
    drop role ${ROLE};
  exception when dependent_objects_still_exist or undefined_object then
    -- another database granted it something (or dropped it) meanwhile: it stays theirs
    null;
  end;
end
$migration$`

export async function up(db: Kysely<any>): Promise<void> {
  await sql.raw(UP).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql.raw(DOWN).execute(db)
}
