/**
 * Text for people: alert messages, Alertmanager labels and annotations, terminal output. Payload values
 * reach these (user names, namespaces, Falco output), and Slack, e-mail and terminals render control and
 * formatting characters: a right-to-left override can make `evil` read as `live`, a zero-width space can
 * split a word a reviewer searches for, and control characters can rewrite a terminal line. Such characters
 * are shown as visible `\uXXXX` escapes (the raw fields of the alert keep the original values).
 */

/** Longest human-facing text; the raw fields keep everything. */
export const MAX_DISPLAY_CHARS = 2_000;

// C0 and C1 controls, DEL, bidi marks/embeddings/overrides/isolates, zero-width characters, the line and
// paragraph separators, the BOM, and interlinear annotation characters.
const HIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/g;

function visibleEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** `text` with hidden and control characters made visible, tabs and newlines as spaces, and bounded in length. */
export function displaySafe(text: string, maxChars = MAX_DISPLAY_CHARS): string {
  let out = text
    .toWellFormed()
    .replace(/[\t\n\r]+/g, ' ')
    .replace(HIDDEN, visibleEscape);
  if (out.length > maxChars) out = `${out.slice(0, maxChars - 1)}…`;
  return out;
}
