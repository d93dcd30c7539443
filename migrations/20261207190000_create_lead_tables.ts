import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go into new migrations.
//
// The leads of Calltouch (issue 18): the calls journal and the requests journal, raw (every
// distinct version, as raw.calltouch_orders) and normalized, with their tags and attribution.
// Contact columns (caller_number, client_name, client_phones, client_emails) hold what
// CALLTOUCH_ETL_PII allows, as deals' do; the Metabase role reads none of schema calltouch since
// 20261207180000 (no grant, no default privilege there), so these tables are not granted either.
// etl.rejected_records gains the source of each record, since leads' records are set aside there too.

/** Comments of the columns calls and requests share, by column. */
const SHARED_COMMENTS: Readonly<Record<string, string>> = {
  site_id: 'Calltouch site id',
  source: 'Traffic source of the attributed visit as Calltouch determined it (yandex, google, (direct), …)',
  medium: 'Traffic medium of the attributed visit (cpc, organic, …)',
  keyword: 'Search keyword of the attributed visit',
  utm_source: 'utm_source of the attributed visit',
  utm_medium: 'utm_medium of the attributed visit',
  utm_campaign: "utm_campaign of the attributed visit (often the ad platform's campaign id)",
  utm_content: 'utm_content of the attributed visit',
  utm_term: 'utm_term of the attributed visit',
  city: 'City of the visitor, by IP or number',
  url: 'Landing page of the attributed visit',
  ref: 'Referrer of the attributed visit',
  session_id: 'Calltouch session id of the attributed visit',
  yandex_direct_campaign_id:
    'yandexDirect.campaignId: the Yandex Direct CampaignId of the lead, when Calltouch knows it',
  yandex_direct_ad_group_id: 'yandexDirect.adGroupId',
  yandex_direct_ad_id: 'yandexDirect.adId',
  client_key:
    "HMAC-SHA256 (hex) of the client's first normalized phone under the PII key, as calltouch.orders.client_key; null without a phone",
  removed_from_source_at: "When a complete read of the lead's day no longer returned it; null while the API returns it",
  payload_hash: 'Hash of the raw version the row reflects',
  first_seen_at: 'When the warehouse first saw the lead',
  last_changed_at: 'When a changed version of the lead was last loaded',
  last_seen_at: 'When the API last returned the lead (kept to the hour for unchanged leads)',
}

function commentsOn(table: string, own: Readonly<Record<string, string>>, columns: readonly string[]): string[] {
  return columns.map((column) => {
    const text = own[column] ?? SHARED_COMMENTS[column]
    if (text === undefined) throw new Error(`no comment for ${table}.${column}`)
    return `comment on column ${table}.${column} is '${text.replace(/'/g, "''")}'`
  })
}

const ATTRIBUTION = `source text, medium text, keyword text,
    utm_source text, utm_medium text, utm_campaign text, utm_content text, utm_term text,
    city text, url text, ref text, session_id bigint,
    yandex_direct_campaign_id bigint, yandex_direct_ad_group_id bigint, yandex_direct_ad_id bigint`
const ATTRIBUTION_COLUMNS = [
  'source',
  'medium',
  'keyword',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
  'city',
  'url',
  'ref',
  'session_id',
  'yandex_direct_campaign_id',
  'yandex_direct_ad_group_id',
  'yandex_direct_ad_id',
]
const STATE = `client_key text,
    removed_from_source_at timestamptz,
    payload_hash text not null,
    first_seen_at timestamptz not null,
    last_changed_at timestamptz not null,
    last_seen_at timestamptz not null`
const STATE_COLUMNS = [
  'client_key',
  'removed_from_source_at',
  'payload_hash',
  'first_seen_at',
  'last_changed_at',
  'last_seen_at',
]

function rawTable(table: string, key: string, what: string, keyComment: string): string[] {
  return [
    `create table raw.${table} (
    raw_id bigint generated always as identity primary key,
    site_id integer not null,
    ${key} bigint not null,
    payload jsonb not null,
    payload_hash text not null,
    run_id bigint not null,
    extracted_at timestamptz not null default now()
  )`,
    `comment on table raw.${table} is 'Every distinct version of every ${what} as the Calltouch ${what}s journal returned it (contacts as CALLTOUCH_ETL_PII allows): its change history'`,
    `comment on column raw.${table}.raw_id is 'Order of landing'`,
    `comment on column raw.${table}.site_id is 'Calltouch site id'`,
    `comment on column raw.${table}.${key} is '${keyComment.replace(/'/g, "''")}'`,
    `comment on column raw.${table}.payload is 'The record as the API returned it, unknown fields included; contacts kept, hashed or dropped per CALLTOUCH_ETL_PII'`,
    `comment on column raw.${table}.payload_hash is 'md5 of the payload''s canonical jsonb text; a version is landed only when it differs from the one the normalized row reflects'`,
    `comment on column raw.${table}.run_id is 'The run (etl.runs) that landed this version'`,
    `comment on column raw.${table}.extracted_at is 'When this version was landed'`,
    `create index ${table}_lead_idx on raw.${table} (site_id, ${key}, raw_id desc)`,
  ]
}

function tagTable(table: string, key: string, what: string, field: string): string[] {
  return [
    `create table calltouch.${table} (
    site_id integer not null,
    ${key} bigint not null,
    category text not null,
    type text not null,
    tag text not null,
    primary key (site_id, ${key}, category, type, tag)
  )`,
    `comment on table calltouch.${table} is 'Tags of ${what}s (${field}[].names), one row per ${what}, category, type and tag'`,
    `comment on column calltouch.${table}.site_id is 'Calltouch site id'`,
    `comment on column calltouch.${table}.${key} is 'The ${what} (calltouch.${what}s)'`,
    `comment on column calltouch.${table}.category is 'category of the tag group; empty when the API gives none'`,
    `comment on column calltouch.${table}.type is 'type of the tag group (manual, auto, …); empty when the API gives none'`,
    `comment on column calltouch.${table}.tag is 'The tag'`,
  ]
}

const UP = [
  ...rawTable('calltouch_calls', 'call_id', 'call', "callId: Calltouch's call id"),
  ...rawTable('calltouch_requests', 'request_id', 'request', "requestId: Calltouch's request id"),

  `create table calltouch.calls (
    site_id integer not null,
    call_id bigint not null,
    call_time timestamptz,
    call_local_time timestamp not null,
    call_day date not null,
    duration_seconds integer,
    waiting_seconds integer,
    successful boolean,
    unique_call boolean,
    target_call boolean,
    uniq_target_call boolean,
    callback_call boolean,
    call_phase text,
    status_details text,
    attribution integer,
    ${ATTRIBUTION},
    hostname text,
    call_url text,
    caller_number text,
    phone_number text,
    redirect_number text,
    ${STATE},
    primary key (site_id, call_id)
  )`,
  `comment on table calltouch.calls is 'Calltouch calls (calls journal), one row per call, current state'`,
  ...commentsOn(
    'calltouch.calls',
    {
      call_id: "callId: Calltouch's call id, what a deal's orderSource.callId names",
      call_time: "When the call began, an instant: the journal's timestamp (epoch seconds, UTC)",
      call_local_time: "When the call began, site-local: the journal's date DD/MM/YYYY HH:MM:SS",
      call_day: 'Site-local day of the call: the day the ledger and the funnel count it on',
      duration_seconds: 'duration: seconds of talk',
      waiting_seconds: 'waitingConnect: seconds until answered',
      successful: 'successful: the call was answered',
      unique_call: "uniqueCall: the caller's first call (Calltouch's rule)",
      target_call: "targetCall: the call met the project's target criteria",
      uniq_target_call: 'uniqTargetCall: unique and target',
      callback_call: 'callbackCall: a call ordered through the callback widget',
      call_phase: 'callphase: phase of the call when it was read',
      status_details: "statusDetails: detail of the call's status",
      attribution: 'attribution: the model of the source fields (0 last interaction, 1 last non-direct)',
      hostname: 'hostname: the tracked domain',
      call_url: 'callUrl: the page the call was made from',
      caller_number:
        'callerNumber, the caller: as the API gives it (CALLTOUCH_ETL_PII=keep), its keyed hash (hash), or null (drop)',
      phone_number: "phoneNumber: the tracking number dialled (the site's, not the client's)",
      redirect_number: "redirectNumber: the site's number the call was forwarded to",
    },
    [
      'site_id',
      'call_id',
      'call_time',
      'call_local_time',
      'call_day',
      'duration_seconds',
      'waiting_seconds',
      'successful',
      'unique_call',
      'target_call',
      'uniq_target_call',
      'callback_call',
      'call_phase',
      'status_details',
      'attribution',
      ...ATTRIBUTION_COLUMNS,
      'hostname',
      'call_url',
      'caller_number',
      'phone_number',
      'redirect_number',
      ...STATE_COLUMNS,
    ],
  ),
  `create index calls_call_day_idx on calltouch.calls (site_id, call_day)`,

  `create table calltouch.requests (
    site_id integer not null,
    request_id bigint not null,
    request_number text,
    request_time timestamptz,
    request_local_time timestamp not null,
    request_day date not null,
    subject text,
    manager text,
    unique_request boolean,
    target_request boolean,
    uniq_target_request boolean,
    session_local_time timestamp,
    attribution integer,
    ${ATTRIBUTION},
    client_id bigint,
    client_name text,
    client_phones text,
    client_emails text,
    ${STATE},
    primary key (site_id, request_id)
  )`,
  `comment on table calltouch.requests is 'Calltouch requests (site forms, requests journal), one row per request, current state'`,
  ...commentsOn(
    'calltouch.requests',
    {
      request_id: "requestId: Calltouch's request id",
      request_number: "requestNumber: the request's id on the site, what a deal's orderSource.requestNumber names",
      request_time: "When the request was created, an instant: the journal's date (epoch milliseconds, UTC)",
      request_local_time: "When the request was created, site-local: the journal's dateStr DD/MM/YYYY HH:MM:SS",
      request_day: 'Site-local day of the request: the day the ledger and the funnel count it on',
      subject: "subject: the form's name",
      manager: 'manager: assigned via the API',
      unique_request: "uniqueRequest: the client's first lead (Calltouch's rule)",
      target_request: "targetRequest: the request met the project's target criteria",
      uniq_target_request: 'uniqTargetRequest: unique and target',
      session_local_time: 'session.sessionDate: when the attributed visit began, site-local',
      attribution: 'session.attribution: the model of the source fields',
      keyword: 'session.keywords: search keyword of the attributed visit',
      client_id: "client.clientId: Calltouch's client id",
      client_name: 'client.fio: as the API gives it (CALLTOUCH_ETL_PII=keep), its keyed hash (hash), or null (drop)',
      client_phones:
        'client.phones[].phoneNumber, comma-separated: as given (keep), their keyed hashes (hash), or null (drop)',
      client_emails:
        'client.contacts[].contactValue of e-mail contacts, comma-separated: as given (keep), their keyed hashes (hash), or null (drop)',
    },
    [
      'site_id',
      'request_id',
      'request_number',
      'request_time',
      'request_local_time',
      'request_day',
      'subject',
      'manager',
      'unique_request',
      'target_request',
      'uniq_target_request',
      'session_local_time',
      'attribution',
      ...ATTRIBUTION_COLUMNS,
      'client_id',
      'client_name',
      'client_phones',
      'client_emails',
      ...STATE_COLUMNS,
    ],
  ),
  `create index requests_request_day_idx on calltouch.requests (site_id, request_day)`,
  `create index requests_request_number_idx on calltouch.requests (site_id, request_number)`,

  ...tagTable('call_tags', 'call_id', 'call', 'callTags'),
  ...tagTable('request_tags', 'request_id', 'request', 'RequestTags'),

  `alter table etl.rejected_records add column source text not null default 'calltouch-deals'`,
  `comment on column etl.rejected_records.source is 'The ledger''s name of what the record came from: calltouch-deals, calltouch-calls or calltouch-requests'`,
  `comment on column etl.rejected_records.order_number is 'The record''s id when it has one: orderNumber (deals), callId (calls) or requestId (requests)'`,
]

const DOWN = [
  `delete from etl.rejected_records where source <> 'calltouch-deals'`,
  `comment on column etl.rejected_records.order_number is 'orderNumber of the record, when it has one'`,
  `alter table etl.rejected_records drop column if exists source`,
  `drop table if exists calltouch.request_tags`,
  `drop table if exists calltouch.call_tags`,
  `drop table if exists calltouch.requests`,
  `drop table if exists calltouch.calls`,
  `drop table if exists raw.calltouch_requests`,
  `drop table if exists raw.calltouch_calls`,
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of UP) await sql.raw(statement).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const statement of DOWN) await sql.raw(statement).execute(db)
}
