/** Reads a copy of a response body for the store, giving up past a byte limit or on a broken stream. */
export type Captured = { ok: true; body: ArrayBuffer } | { ok: false; reason: "too-large" | "truncated" };

export async function captureBody(stream: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Captured> {
  if (!stream) return { ok: true, body: new ArrayBuffer(0) };
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        // Cancelling our branch of the tee leaves the client's branch streaming.
        await reader.cancel().catch(() => {});
        return { ok: false, reason: "too-large" };
      }
      chunks.push(value);
    }
  } catch {
    // A reset or a short body (fewer bytes than Content-Length) must never become the LKG copy.
    return { ok: false, reason: "truncated" };
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { ok: true, body: body.buffer };
}
