#!/usr/bin/env node
// The program is TypeScript run through tsx, so `npx calltouch-etl` works right
// after `npm ci` with no build step to remember.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../pipelines/cli/main.ts')
process.exitCode = await main(process.argv)
