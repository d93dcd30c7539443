/**
 * Secrets (API tokens, database passwords) are registered here as soon as the
 * configuration is read, and every text that leaves the process — log lines,
 * error messages, stored error columns — passes through `redact`. Tokens go into
 * URLs, so their URL-encoded forms are registered too.
 */
const MIN_SECRET_LENGTH = 4
const REDACTED = '[REDACTED]'

const secrets = new Set<string>()

export function registerSecret(secret: string | undefined | null): void {
  if (!secret || secret.length < MIN_SECRET_LENGTH) return
  for (const form of [
    secret,
    encodeURIComponent(secret),
    encodeURI(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
  ]) {
    secrets.add(form)
  }
}

/** Replaces every registered secret in `text` with `[REDACTED]`. */
export function redact(text: string): string {
  let result = text
  // Longest first, so a secret that contains another is removed whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (result.includes(secret)) result = result.split(secret).join(REDACTED)
  }
  return result
}

/** A URL with its password and its `clientApiId` replaced, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = 'REDACTED'
    if (parsed.searchParams.has('clientApiId')) parsed.searchParams.set('clientApiId', 'REDACTED')
    return redact(parsed.toString())
  } catch {
    return redact(url)
  }
}

/** For tests only: forget every registered secret. */
export function clearSecretsForTests(): void {
  secrets.clear()
}
