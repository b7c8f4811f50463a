/**
 * A write's body, buffered so it can be fingerprinted and queued, up to the queue's limit. A larger
 * one is handed back as a stream (what was read, then the rest) so it can still pass straight through.
 */
import { joinChunks, readUpTo } from "../bounded-read.ts";

export type WriteBody = { kind: "buffered"; bytes: ArrayBuffer | null } | { kind: "too-large"; stream: ReadableStream<Uint8Array>; readBytes: number };

export async function readWriteBody(request: Request, limit: number): Promise<WriteBody> {
  if (request.body === null) return { kind: "buffered", bytes: null };
  const declared = request.headers.get("content-length");
  // Content-Length was checked to be digits before the request got here (app.ts refuse).
  if (declared !== null && Number(declared) > limit) return { kind: "too-large", stream: request.body, readBytes: 0 };
  const reader = request.body.getReader();
  const read = await readUpTo(reader, limit);
  if (read.over) return { kind: "too-large", stream: rest(read.chunks, reader), readBytes: read.size };
  return { kind: "buffered", bytes: joinChunks(read.chunks, read.size).buffer as ArrayBuffer };
}

/** The chunks already read, then whatever the reader still holds. */
function rest(read: Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i < read.length) {
        controller.enqueue(read[i++]!);
        return;
      }
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
