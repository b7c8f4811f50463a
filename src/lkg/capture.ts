/** Reads a copy of a response body for the store, giving up past a byte limit or on a broken stream. */
import { joinChunks, readUpTo } from "../bounded-read.ts";

export type Captured = { ok: true; body: ArrayBuffer } | { ok: false; reason: "too-large" | "truncated" };

export async function captureBody(stream: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Captured> {
  if (!stream) return { ok: true, body: new ArrayBuffer(0) };
  const reader = stream.getReader();
  let read;
  try {
    read = await readUpTo(reader, maxBytes);
  } catch {
    // A reset or a short body (fewer bytes than Content-Length) must never become the LKG copy.
    return { ok: false, reason: "truncated" };
  }
  if (read.over) {
    // Cancelling our branch of the tee leaves the client's branch streaming.
    await reader.cancel().catch(() => {});
    return { ok: false, reason: "too-large" };
  }
  return { ok: true, body: joinChunks(read.chunks, read.size).buffer as ArrayBuffer };
}
