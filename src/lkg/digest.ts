/** A fingerprint of a copy's content (status, headers, body), to tell a changed answer from the same one again. */
import type { LkgEntry } from "./entry.ts";

export async function contentDigest(entry: LkgEntry, volatileHeaders: readonly string[]): Promise<string> {
  let head = `${entry.status}\n`;
  for (const [name, value] of entry.headers) if (!volatileHeaders.includes(name)) head += `${name}: ${value}\n`;
  const headBytes = new TextEncoder().encode(head);
  const all = new Uint8Array(headBytes.byteLength + entry.body.byteLength);
  all.set(headBytes, 0);
  all.set(new Uint8Array(entry.body), headBytes.byteLength);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}
