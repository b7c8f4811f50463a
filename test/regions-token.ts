/** Region assignment tokens made the way a client could only get them from us: `<region>.<expires s>.<base64url HMAC-SHA256(secret, "<region>.<expires>")>`. */

const encoder = new TextEncoder();

function base64url(bytes: ArrayBuffer): string {
  let binary = "";
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A token for `region` expiring at `expiresS` (unix seconds), signed with `secret` (a STICKY_SECRET). */
export async function token(region: string, expiresS: number, secret: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const payload = `${region}.${expiresS}`;
  return `${payload}.${base64url(await crypto.subtle.sign("HMAC", key, encoder.encode(payload)))}`;
}

/** The token of a Set-Cookie edge-region=... header. */
export function cookieToken(setCookie: string | null): string {
  const match = /^edge-region=([^;]+);/.exec(setCookie ?? "");
  if (!match) throw new Error(`not an assignment cookie: ${String(setCookie)}`);
  return match[1]!;
}
