-- Only what the spend models need: which days of which account were read
-- completely; the error text stays in etl.ledger.
select
    source as ledger_source,
    account,
    day as ledger_day,
    status,
    last_succeeded_at

from {{ source('etl', 'ledger') }}
