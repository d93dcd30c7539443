-- Removes contacts from the text of the staged records set aside because PostgreSQL refused them
-- (set_aside_staged_record): that text goes to etl.rejected_records as received, and PostgreSQL
-- could not parse it, so the client object and orderSource's ani are cut out of the text itself
-- (each becomes null). Modes hash and drop only; a mode keep warehouse keeps the text whole.
-- $1 the payload_hash of a record set aside.
update pg_temp.load_records r
set record = jsonb_set(r.record, '{text}', to_jsonb(
  regexp_replace(
    regexp_replace(
      r.record ->> 'text',
      '"client"\s*:\s*\{(?:[^{}"]|"(?:[^"\\]|\\.)*")*\}', '"client":null', 'g'
    ),
    '"ani"\s*:\s*(?:"(?:[^"\\]|\\.)*"|[-+0-9.eE]+)', '"ani":null', 'g'
  )
))
where r.payload_hash = $1::text and jsonb_typeof(r.record -> 'text') = 'string'
