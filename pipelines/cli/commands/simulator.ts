import type { Command } from 'commander'

/** What `calltouch-etl --help` lists; simulator/cli.ts describes the command in full. */
const SIMULATOR_SUMMARY =
  'run a local Calltouch API simulator (deals export, node discovery, deal writes, the 5/s rate limit, errors and faults) until Ctrl+C'

/**
 * Declares `simulator` without loading the simulator, a test double of 3.7k
 * lines that no other command needs: only when commander is about to parse
 * `simulator …` (its switches, its --help) is simulator/cli.ts imported, and it
 * gives the command its switches and action.
 */
export function registerSimulatorCommand(program: Command, io: { readonly stdout: NodeJS.WritableStream }): void {
  const simulator = program
    .command('simulator')
    .summary(SIMULATOR_SUMMARY)
    // Shown only by `calltouch-etl help simulator`, which commander answers before any hook runs.
    .description(`${SIMULATOR_SUMMARY}.\nIts switches: calltouch-etl simulator --help`)
  program.hook('preSubcommand', async (_program, subcommand) => {
    if (subcommand !== simulator) return
    const { configureSimulatorCommand } = await import('../../../simulator/cli.ts')
    configureSimulatorCommand(simulator, { stdout: io.stdout })
  })
}
