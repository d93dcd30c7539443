/**
 * Which file may import which, checked by `npm test` (dependency-cruiser).
 * Run it alone with `npm run check:layers`.
 *
 * Dependencies point one way: cli → jobs → operate → sources/spend/transform →
 * http, warehouse → core. A folder of pipelines/ may import its own files and
 * the layers below it, never a layer above nor another folder of its own layer.
 * Folders that do not exist yet (jobs, http, sources) are ruled already.
 * Type-only imports count too: a cycle of types is still a knot to untie.
 */

/** The layers of pipelines/, highest first: the folders of each. */
const LAYERS = [
  ['cli'],
  ['jobs'],
  // Read-side reports (status, ROI): over the pipelines, under the commands and jobs that print them.
  ['operate'],
  // One folder per source under sources/ (calltouch-deals today).
  ['sources', 'spend', 'transform'],
  ['http', 'warehouse'],
  ['core'],
]

/** The two commands that load the simulator and the demo, lazily: nothing else in pipelines/ may. */
const LAZY_LOADERS = '^pipelines/cli/commands/(simulator|demo)[.]ts$'

const folders = (names) => `^pipelines/(${names.join('|')})/`

const layerRules = LAYERS.flatMap((layer, index) =>
  layer.map((folder) => {
    const forbidden = [...LAYERS.slice(0, index).flat(), ...layer.filter((other) => other !== folder)]
    return {
      name: `layer-${folder}`,
      comment: `pipelines/${folder}/ imports only its own files and ${
        LAYERS.slice(index + 1)
          .flat()
          .join(', ') || 'packages'
      }: move the shared code down a layer, or pass it in.`,
      severity: 'error',
      from: { path: `^pipelines/${folder}/` },
      to: { path: forbidden.length > 0 ? folders(forbidden) : '^$' },
    }
  }),
).filter((rule) => rule.to.path !== '^$')

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-simulator-in-product',
      comment: `Product code never loads the simulator or the demo: only the simulator and demo commands (${LAZY_LOADERS}) do, with import() inside their action.`,
      severity: 'error',
      from: { path: '^pipelines/', pathNot: LAZY_LOADERS },
      to: { path: '^(simulator|demo)/' },
    },
    {
      name: 'simulator-loaded-lazily',
      comment:
        'The simulator and demo commands load simulator/ and demo/ with import() inside their action, so that no other command loads them.',
      severity: 'error',
      from: { path: LAZY_LOADERS },
      to: { path: '^(simulator|demo)/', dependencyTypesNot: ['dynamic-import'] },
    },
    {
      name: 'no-tests-in-product',
      comment: 'Product code never imports tests or benchmarks.',
      severity: 'error',
      from: { path: '^(pipelines|migrations|bin)/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-dev-dependencies-in-product',
      comment: 'The image installs dependencies only (npm ci --omit=dev): product code imports no devDependency.',
      severity: 'error',
      from: { path: '^(pipelines|migrations|bin)/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    ...layerRules,
    {
      name: 'no-cycles',
      comment: 'No import cycle, of values or of types: put what both sides need in a module below both.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      comment:
        'Every relative import resolves to a file (an import the checker cannot follow is an arrow it cannot check).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Count `import type` too (they are erased at run time, but still tie modules together).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
}
