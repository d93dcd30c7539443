-- Records the contact mode and PII key fingerprint the warehouse's deals are loaded under; a row
-- another process recorded first stays (the caller reads it again and compares).
-- $1 mode, $2 key fingerprint.
insert into etl.contact_protection (mode, key_fingerprint)
values ($1::text, $2::text)
on conflict (singleton) do nothing
