#!/usr/bin/env -S node --max-old-space-size=256
// The program is TypeScript, run from a bundle of its sources built on the first run after any
// of them changed (prebuilt-cli.js), or through tsx when no bundle can be had: `npx
// calltouch-etl` works right after `npm ci` with no build step to remember, and never runs
// anything but the sources as they are.
// The heap cap keeps a backfill of any length under ~300 MB: what a sync holds
// is bounded (pages received and not yet loaded, see sync-sites.ts), but V8 lets
// the heap grow far past what is live before it collects the large page texts.
// Everything that starts the command passes the same flag (package.json's demo,
// the Dockerfile); `node --max-old-space-size=N bin/calltouch-etl.js` raises it.
import { prebuiltCli } from './prebuilt-cli.js'

const main = await loadMain()
process.exitCode = await main(process.argv)

async function loadMain() {
  const bundle = await prebuiltCli()
  if (bundle !== undefined) {
    try {
      // Stack traces (--verbose) name the TypeScript sources, as under tsx.
      process.setSourceMapsEnabled(true)
      return (await import(bundle)).main
    } catch {
      // Removed meanwhile, or broken: the sources themselves.
    }
  }
  const { register } = await import('tsx/esm/api')
  register()
  return (await import('../pipelines/cli/main.ts')).main
}
