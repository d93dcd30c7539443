/**
 * Exit codes of every command, so cron and monitoring can tell the cases apart.
 * - `ok`: the work was done.
 * - `failed`: the work failed or partly failed (a window, a site, a model).
 * - `usage`: bad options, configuration or input; nothing was changed.
 * - `locked`: another run holds the warehouse; nothing was changed.
 */
export const EXIT_CODES = {
  ok: 0,
  failed: 1,
  usage: 2,
  locked: 3,
} as const

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES]

/** Failure kinds; each maps to one exit code. */
export const ERROR_CODES = {
  USAGE: EXIT_CODES.usage,
  CONFIG: EXIT_CODES.usage,
  INPUT: EXIT_CODES.usage,
  LOCKED: EXIT_CODES.locked,
  WAREHOUSE: EXIT_CODES.failed,
  API: EXIT_CODES.failed,
  FAILED: EXIT_CODES.failed,
} as const

export type ErrorCode = keyof typeof ERROR_CODES

/**
 * The one error class of the program: a `code` that decides the exit code, a
 * one-line message that says what is wrong and how to fix it, and a context
 * object with identifiers (never secrets) for logs.
 */
export class EtlError extends Error {
  readonly code: ErrorCode
  readonly context: Readonly<Record<string, unknown>>

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'EtlError'
    this.code = code
    this.context = Object.freeze({ ...options.context })
  }

  get exitCode(): ExitCode {
    return ERROR_CODES[this.code]
  }
}

/** The exit code an error deserves: its own for an EtlError, `failed` otherwise. */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof EtlError ? error.exitCode : EXIT_CODES.failed
}

/** The message of anything thrown, for one-line reports. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
