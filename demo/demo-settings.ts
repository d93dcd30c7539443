/**
 * The demo's simulated world, fixed so that `calltouch-etl demo` prints the
 * same numbers on every machine and `demo/demo-spend.csv` (generated from the
 * same settings by demo/generate-demo-spend.ts) matches its channels.
 */
export const DEMO_SITE_ID = 20261
/** Not a secret: the simulator accepts it and nothing else does. */
export const DEMO_TOKEN = 'demo-token'
export const DEMO_SEED = 2026
export const DEMO_TIME_ZONE = 'Europe/Moscow'
export const DEMO_DEALS_PER_DAY = 40
/** The simulator's clock: the deals' statuses and amounts are as of this moment. */
export const DEMO_NOW = '2026-11-29T09:00:00+03:00'
/** 90 days of history, up to the day before the clock. */
export const DEMO_FIRST_DAY = '2026-08-31'
export const DEMO_LAST_DAY = '2026-11-28'
/** The last full month before the clock: what the demo's table shows. */
export const DEMO_REPORT_FROM = '2026-10-01'
export const DEMO_REPORT_TO = '2026-10-31'
export const DEMO_SPEND_FILE = new URL('./demo-spend.csv', import.meta.url)
