// Run node with `--import` of this file to append the URL of every module the
// process resolves, one a line, to the file named by RECORD_RESOLVED_MODULES_TO.
// Plain JavaScript: it is loaded before the command registers tsx.
import { register } from 'node:module'

const file = process.env.RECORD_RESOLVED_MODULES_TO
if (!file) throw new Error('set RECORD_RESOLVED_MODULES_TO to the file that receives the resolved module URLs')
register('./record-resolved-modules-hooks.mjs', import.meta.url, { data: { file } })
