// The command's TypeScript as one prebuilt ES module, built by esbuild on the first run after
// any of its sources changed and kept in node_modules/.cache/calltouch-etl/. Loading the sources
// through tsx's hooks cost ~1 s of CPU before anything ran (every module, the packages' too, goes
// through the hooks); the bundle loads in ~0.4 s. There is no build step to remember and nothing
// can run stale: a bundle is found by a hash of the exact text of every source it was built from
// (and of tsconfig.json, package.json and this file), computed again on every start, and any source edited
// since means a new build. When no bundle can be had (esbuild missing, the cache not writable, a
// source that does not compile), the caller runs the sources through tsx as before.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const ENTRY = path.join(ROOT, 'pipelines', 'cli', 'main.ts')
const CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 'calltouch-etl')
/** The sources the last bundle was built from, relative to the root (a new source is imported by an edited one). */
const INPUTS_FILE = path.join(CACHE_DIR, 'cli-inputs.json')
/**
 * Written next to each bundle: the sources in each of its files, relative to the root, so that
 * a test of which sources a command loads can see through the bundle.
 */
export const SOURCES_FILE = 'sources.json'
/** Files that change a bundle without being imported by a source: the compiler's settings and this builder. */
const SETTINGS_FILES = ['tsconfig.json', 'package.json', 'bin/prebuilt-cli.js']
/** Part of every bundle's hash; raise it to retire every bundle built so far. */
const BUILD_FORMAT = 1
/**
 * Packages bundled with the sources rather than loaded from node_modules: plain ES modules of
 * many files each, which node resolves and loads one by one (kysely alone took 0.1-0.2 s of a
 * 0.4 s start-up). Their files count among the sources, so an upgrade builds a new bundle.
 */
const BUNDLED_PACKAGES = ['kysely', 'zod']
/** Bundles of earlier sources are removed once this old (a process may be starting from one). */
const STALE_BUNDLE_AGE_MS = 60 * 60 * 1000

/**
 * The URL of a bundle of the current sources whose module exports `main`, building it when
 * there is none; undefined when it cannot be had.
 */
export async function prebuiltCli() {
  try {
    return findBundle() ?? (await buildBundle())
  } catch {
    return undefined
  }
}

/** The bundle of the sources as they are now, if built. */
function findBundle() {
  let inputs
  try {
    const saved = JSON.parse(fs.readFileSync(INPUTS_FILE, 'utf8'))
    if (saved.format !== BUILD_FORMAT || !Array.isArray(saved.inputs)) return undefined
    inputs = saved.inputs
  } catch {
    return undefined
  }
  const texts = new Map()
  for (const input of inputs) {
    try {
      texts.set(input, fs.readFileSync(path.join(ROOT, input)))
    } catch {
      return undefined
    }
  }
  const main = path.join(CACHE_DIR, hashOf(texts), 'main.mjs')
  return fs.existsSync(main) ? pathToFileURL(main).href : undefined
}

/** Builds the bundle of the sources as esbuild reads them, and records them for {@link findBundle}. */
async function buildBundle() {
  const esbuild = await import('esbuild')
  /** Relative path → the exact bytes compiled. */
  const texts = new Map()
  const scratch = path.join(CACHE_DIR, `build-${process.pid}-${Date.now()}`)
  try {
    const { metafile } = await esbuild.build({
      entryPoints: { main: ENTRY },
      outdir: scratch,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      // Chunks loaded by import() stay apart: the simulator and the demo load with their commands only.
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      // Packages stay in node_modules, loaded by node, but for BUNDLED_PACKAGES (sourceTexts).
      sourcemap: 'linked',
      logLevel: 'silent',
      metafile: true,
      plugins: [sourceTexts(texts)],
    })
    fs.writeFileSync(path.join(scratch, SOURCES_FILE), JSON.stringify(sourcesByOutput(metafile, scratch)))
    const hash = hashOf(texts)
    const target = path.join(CACHE_DIR, hash)
    try {
      fs.renameSync(scratch, target)
    } catch (error) {
      // Another process built the same sources meanwhile: theirs is as good.
      if (!fs.existsSync(path.join(target, 'main.mjs'))) throw error
    }
    const inputsTemp = `${INPUTS_FILE}.${process.pid}`
    fs.writeFileSync(inputsTemp, JSON.stringify({ format: BUILD_FORMAT, inputs: [...texts.keys()] }))
    fs.renameSync(inputsTemp, INPUTS_FILE)
    removeStaleBundles(hash)
    return pathToFileURL(path.join(target, 'main.mjs')).href
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true })
  }
}

/**
 * Keeps the text of every source compiled, and gives each module its own import.meta.url (its
 * source file's, as tsx does), so that files found next to the sources (sql/, migrations/,
 * dbt/) are found from the bundle. A source using any other import.meta fails the build.
 */
function sourceTexts(texts) {
  return {
    name: 'source-texts',
    setup(build) {
      build.onStart(() => {
        texts.clear()
        for (const file of SETTINGS_FILES) texts.set(file, fs.readFileSync(path.join(ROOT, file)))
      })
      // Bare specifiers: to node_modules at run time, but for the bundled packages.
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        const name = args.path.startsWith('@') ? args.path.split('/', 2).join('/') : args.path.split('/')[0]
        return BUNDLED_PACKAGES.includes(name) ? undefined : { path: args.path, external: true }
      })
      build.onLoad({ filter: /[\\/]node_modules[\\/].*\.[cm]?js$/ }, (args) => {
        const bytes = fs.readFileSync(args.path)
        texts.set(path.relative(ROOT, args.path), bytes)
        return { contents: bytes, loader: 'js' }
      })
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        const bytes = fs.readFileSync(args.path)
        texts.set(path.relative(ROOT, args.path), bytes)
        const source = bytes
          .toString('utf8')
          .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
        if (/\bimport\.meta\b/.test(source))
          return { errors: [{ text: 'import.meta other than import.meta.url cannot be bundled' }] }
        return { contents: source, loader: 'ts' }
      })
    },
  }
}

/** Each output file's name → the sources (relative to the root) bundled into it. */
function sourcesByOutput(metafile, outdir) {
  const sources = {}
  for (const [output, { inputs }] of Object.entries(metafile.outputs)) {
    if (!output.endsWith('.mjs')) continue
    sources[path.basename(output)] = Object.keys(inputs).map((input) =>
      path.relative(ROOT, path.resolve(process.cwd(), input)),
    )
  }
  return sources
}

function hashOf(texts) {
  // The root too: the bundle holds its sources' paths (import.meta.url), and two checkouts may share one node_modules.
  const hash = createHash('sha256').update(`format ${BUILD_FORMAT}\0${ROOT}\0`)
  for (const [file, bytes] of [...texts].sort(([a], [b]) => (a < b ? -1 : 1))) {
    hash.update(`${file}\0${bytes.length}\0`)
    hash.update(bytes)
  }
  return hash.digest('hex').slice(0, 32)
}

function removeStaleBundles(current) {
  const now = Date.now()
  for (const entry of fs.readdirSync(CACHE_DIR, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === current) continue
    const dir = path.join(CACHE_DIR, entry.name)
    try {
      if (now - fs.statSync(dir).mtimeMs > STALE_BUNDLE_AGE_MS) fs.rmSync(dir, { recursive: true, force: true })
    } catch {
      // Removed by another process meanwhile.
    }
  }
}
