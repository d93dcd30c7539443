import { Writable } from 'node:stream'
import cliProgress from 'cli-progress'

/** Clears the whole line the cursor is on and returns to its start (ECMA-48 EL 2, then CR). */
const CLEAR_LINE = '\r\x1b[2K'

/**
 * stderr shared by the log lines and one progress bar, so that neither garbles the other on a
 * terminal: a log line clears the bar's line, is written whole, and the bar is drawn again below
 * it. The bar is drawn only when stderr is a terminal; stdout carries only results.
 *
 * @example
 * const stderr = new StderrWithBar(process.stderr)
 * const logger = createLogger({ format: 'pretty', level: 'info', destination: stderr })
 * stderr.updateBar({ value: 3, total: 10, failed: 0 }) // … logger.info('window read') …
 * stderr.stopBar()
 */
export class StderrWithBar extends Writable {
  /** Read by the logger (colours) like a terminal's own. */
  readonly isTTY: boolean
  readonly #target: NodeJS.WritableStream
  #bar: cliProgress.SingleBar | null = null
  /** Whether the bar is on the screen now, so a log line must clear it first. */
  #drawn = false

  constructor(target: NodeJS.WritableStream) {
    super()
    this.#target = target
    this.isTTY = (target as NodeJS.WriteStream).isTTY === true
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.#drawn) this.#target.write(CLEAR_LINE)
    this.#target.write(chunk)
    // Forced: the bar's text has not changed, but the line it was drawn on was cleared.
    const bar: cliProgress.GenericBar | null = this.#bar
    if (bar !== null && this.#drawn) bar.render(true)
    done()
  }

  /** Draws the bar of days done (starting it at the first call); nothing when stderr is not a terminal. */
  updateBar(progress: { readonly value: number; readonly total: number; readonly failed: number }): void {
    if (!this.isTTY) return
    const payload = { failed: progress.failed }
    if (this.#bar === null) {
      this.#bar = new cliProgress.SingleBar(
        {
          stream: this.#target,
          format: 'days {bar} {value}/{total} ({failed} failed) {eta_formatted} left',
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
      this.#bar.on('redraw-post', () => {
        this.#drawn = true
      })
      this.#bar.start(progress.total, progress.value, payload)
    } else {
      this.#bar.setTotal(progress.total)
      this.#bar.update(progress.value, payload)
    }
  }

  /** Removes the bar from the screen; log lines are written plainly again. */
  stopBar(): void {
    this.#bar?.stop()
    this.#bar = null
    this.#drawn = false
  }
}
