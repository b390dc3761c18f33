// Server messages look like "<field>: <what is wrong>" (docs/CONTRACT.md); the field decides
// where the app shows the message, so the user sees it next to the input that caused it.

const FIELD_PREFIX = /^([a-z][a-z0-9_]*):\s*/;

/** The field a message names, or null when it names none (or one not in `known`). */
export function fieldOfMessage(message, known = null) {
  const match = FIELD_PREFIX.exec(String(message ?? ""));
  if (!match) return null;
  return known === null || known.has(match[1]) ? match[1] : null;
}
