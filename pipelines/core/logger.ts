import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'
import { redact } from './secrets.ts'

export type { Logger } from 'pino'

export const LOG_FORMATS = ['pretty', 'json'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface LoggerConfig {
  /** `pretty` for people at a terminal, `json` (one object a line) for machines. */
  readonly format: LogFormat
  readonly level: LogLevel
  /** Where lines go; logs use stderr so that stdout carries only results. */
  readonly destination?: NodeJS.WritableStream
}

/** `pretty` on a terminal, `json` otherwise. */
export function defaultLogFormat(stream: NodeJS.WriteStream = process.stderr): LogFormat {
  return stream.isTTY ? 'pretty' : 'json'
}

/**
 * A pino logger whose every line passes through `redact`, so a registered secret
 * cannot reach a log whatever a caller puts into it.
 */
export function createLogger(config: LoggerConfig): Logger {
  const destination = config.destination ?? process.stderr
  const options = {
    level: config.level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: { streamWrite: (line: string) => redact(line) },
  }
  // "level":"info" rather than pino's 30, so a log search needs no table of numbers (pino-pretty reads the numbers).
  if (config.format === 'json')
    return pino({ ...options, formatters: { level: (label: string) => ({ level: label }) } }, destination)
  const stream = pretty({
    destination,
    sync: true,
    colorize: (destination as NodeJS.WriteStream).isTTY === true,
    ignore: 'pid,hostname',
    translateTime: 'SYS:HH:MM:ss',
    singleLine: true,
  })
  return pino(options, stream)
}

/** A logger that writes nothing, for library callers and tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
