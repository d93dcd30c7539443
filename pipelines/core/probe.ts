/** What one request said about a source's account (`calltouch-etl check`): it answers, or why not. */
export type ProbeOutcome =
  { readonly ok: true; readonly detail: string } | { readonly ok: false; readonly error: string }
