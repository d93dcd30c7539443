#!/usr/bin/env -S node --max-old-space-size=256
// The program is TypeScript run through tsx, so `npx calltouch-etl` works right
// after `npm ci` with no build step to remember.
// The heap cap keeps a backfill of any length under ~300 MB: what a sync holds
// is bounded (pages received and not yet loaded, see sync-sites.ts), but V8 lets
// the heap grow far past what is live before it collects the large page texts.
// Everything that starts the command passes the same flag (package.json's demo,
// the Dockerfile); `node --max-old-space-size=N bin/calltouch-etl.js` raises it.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../pipelines/cli/main.ts')
process.exitCode = await main(process.argv)
