/** The writer's answer as the ledger keeps it for replays: status, the headers a replay may repeat, and the body up to a limit. */
import type { StoredResult } from "./types.ts";

import { joinChunks, readUpTo } from "../bounded-read.ts";
import { HOP_BY_HOP } from "../scrub/headers.ts";

/**
 * Headers a replay never repeats: Set-Cookie (a session handed to whoever replays), credentials,
 * hop-by-hop ones, and those about this one transfer (set again when the replay is sent).
 */
const DROPPED = new Set(["set-cookie", "set-cookie2", "authorization", "proxy-authorization", "cookie", "date", "content-length", "content-encoding", "transfer-encoding", "age", "x-edge-region"]);

/** `sensitive`: the configured secret headers (config.scrub.sensitiveHeaders), dropped like the built-in ones. */
export function keptHeaders(headers: Headers, sensitive: readonly string[]): [string, string][] {
  const kept: [string, string][] = [];
  headers.forEach((value, name) => {
    if (!DROPPED.has(name) && !HOP_BY_HOP.has(name) && !sensitive.includes(name)) kept.push([name, value]);
  });
  return kept;
}

/** Reads a branch of the answer's body; past `limit` bytes it stops reading (the client's branch is unaffected) and keeps no body. */
export async function captureResult(
  status: number,
  headers: Headers,
  body: ReadableStream<Uint8Array> | null,
  limits: { bytes: number; sensitive: readonly string[] },
  region: string,
  epoch: number,
  at: number,
): Promise<StoredResult> {
  const kept = keptHeaders(headers, limits.sensitive);
  const limit = limits.bytes;
  if (body === null) return { status, headers: kept, body: "", bodyBytes: 0, region, epoch, at };
  const reader = body.getReader();
  const read = await readUpTo(reader, limit);
  if (read.over) {
    await reader.cancel();
    return { status, headers: kept, body: undefined, bodyBytes: read.size, region, epoch, at };
  }
  const bytes = joinChunks(read.chunks, read.size);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { status, headers: kept, body: btoa(binary), bodyBytes: read.size, region, epoch, at };
}
