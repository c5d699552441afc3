/** Bytes written per stream chunk: large enough that a 30,000-cue SRT is a few hundred chunks. */
const CHUNK_CHARS = 32 * 1024;

/** Turns rendered text pieces into a byte stream, pulling only as fast as the client reads. */
export function streamText(pieces: AsyncIterable<string>): ReadableStream<Uint8Array> {
  const it = pieces[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let buffer = "";
      while (buffer.length < CHUNK_CHARS) {
        const next = await it.next();
        if (next.done) {
          if (buffer) controller.enqueue(encoder.encode(buffer));
          controller.close();
          return;
        }
        buffer += next.value;
      }
      controller.enqueue(encoder.encode(buffer));
    },
    async cancel() {
      await it.return?.();
    },
  });
}
