-- Keeps the records set aside (see set_aside_staged_record) out of every write of the window: they
-- were staged as changes like any record whose payload differs from the warehouse's version.
-- $1 the payload_hash of a record set aside.
delete from pg_temp.load_changes c
where c.payload_hash = $1::text
