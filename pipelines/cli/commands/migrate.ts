import type { Command } from 'commander'
import { warehouseConfigFromEnv } from '../../core/config.ts'
import { openWarehouse } from '../../warehouse/connection.ts'
import { migrateToLatest } from '../../warehouse/migrator.ts'
import { say, type Action, type CliContext } from '../context.ts'

export function registerMigrateCommand(program: Command, action: Action): void {
  program
    .command('migrate')
    .description(
      'bring the warehouse (DATABASE_URL, or the embedded one) to the latest schema; safe to run twice or concurrently',
    )
    .action(
      action(async (ctx: CliContext) => {
        const warehouse = await openWarehouse(warehouseConfigFromEnv(ctx.env, ctx.cwd))
        try {
          const { applied } = await migrateToLatest(warehouse.db)
          say(
            ctx,
            applied.length === 0
              ? `The ${warehouse.description} is already at the latest schema.`
              : `Applied ${applied.length} migration(s) to the ${warehouse.description}: ${applied.join(', ')}.`,
          )
        } finally {
          await warehouse.close()
        }
      }),
    )
}
