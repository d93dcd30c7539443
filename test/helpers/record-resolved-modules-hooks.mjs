// Module resolution hooks (https://nodejs.org/docs/latest-v20.x/api/module.html#customization-hooks)
// registered by record-resolved-modules.mjs. tsx registers its own hooks later, which run first
// and hand every specifier on to these, so TypeScript modules are recorded too.
import { appendFileSync } from 'node:fs'

let file = ''

export function initialize(data) {
  file = data.file
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context)
  appendFileSync(file, `${resolved.url}\n`)
  return resolved
}
