/** Reading a body with a hard limit: callers decide what "too large" means (refuse, stream on, keep none). */

export interface ReadUpTo {
  /** What was read, the chunk that crossed the limit included. */
  chunks: Uint8Array[];
  size: number;
  /** The body is larger than `limit`: reading stopped at the first chunk past it, the reader is still open. */
  over: boolean;
}

export async function readUpTo(reader: ReadableStreamDefaultReader<Uint8Array>, limit: number): Promise<ReadUpTo> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { chunks, size, over: false };
    chunks.push(value);
    size += value.byteLength;
    if (size > limit) return { chunks, size, over: true };
  }
}

export function joinChunks(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}
