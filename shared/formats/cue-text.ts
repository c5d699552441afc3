/**
 * Cue payloads must not contain a blank line (it ends the cue in both SRT and
 * WebVTT), and WebVTT also forbids "-->" and treats "<" and "&" as markup.
 */
export function srtCueText(text: string): string {
  return collapseLines(text);
}

export function vttCueText(text: string): string {
  return collapseLines(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function collapseLines(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines.length > 0 ? lines.join("\n") : "…";
}
