/**
 * Server-sent events, parsed as the HTML standard's EventSource parses them
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation),
 * for clients that cannot use EventSource: it sends no Authorization header,
 * so the web page and the CLI read the stream with fetch and feed it here.
 */

export interface SseEvent {
  /** The block's own `id:` field, when it had one (EventSource would also carry an earlier one forward: that is `lastEventId`). */
  id?: string;
  /** `message` when the block named none. */
  event: string;
  /** The block's `data:` lines, joined by "\n". */
  data: string;
}

export class SseParser {
  /**
   * The id to resume from (`Last-Event-ID`): the last `id:` seen, also from a
   * block without data, which moves it without being an event.
   */
  lastEventId: string;
  /** The reconnection delay the server asked for (`retry:`), if it did. */
  retryMs: number | null = null;
  private buffer = "";
  /** The last chunk ended in "\r": a "\n" that starts the next one belongs to the same line end. */
  private afterCr = false;
  private started = false;
  private data: string[] = [];
  private type = "";
  private blockId: string | undefined;

  constructor(lastEventId = "") {
    this.lastEventId = lastEventId;
  }

  /** Takes the next piece of decoded text (any split, even inside a line end); returns the events it completed. */
  push(text: string): SseEvent[] {
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.afterCr && text.startsWith("\n")) text = text.slice(1);
    this.afterCr = false;
    this.buffer += text;
    const events: SseEvent[] = [];
    for (;;) {
      const end = this.buffer.search(/[\r\n]/);
      if (end < 0) break;
      const line = this.buffer.slice(0, end);
      let next = end + 1;
      if (this.buffer[end] === "\r") {
        if (next === this.buffer.length) this.afterCr = true;
        else if (this.buffer[next] === "\n") next += 1;
      }
      this.buffer = this.buffer.slice(next);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  private line(line: string): SseEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null; // a comment (keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.type = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) {
          this.lastEventId = value;
          this.blockId = value;
        }
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
      // unknown fields are ignored
    }
    return null;
  }

  private dispatch(): SseEvent | null {
    const { data, type, blockId } = this;
    this.data = [];
    this.type = "";
    this.blockId = undefined;
    if (data.length === 0) return null;
    return { ...(blockId !== undefined ? { id: blockId } : {}), event: type || "message", data: data.join("\n") };
  }
}
