/** Bearer-secret check for the admin routes, in constant time whatever the lengths. */
export type AdminAuth = { ok: true } | { ok: false; status: 401 | 403; reason: string };

export async function checkAdmin(authorization: string | null, secret: string | undefined): Promise<AdminAuth> {
  if (!secret) {
    return { ok: false, status: 403, reason: "admin routes are disabled: set a secret with `wrangler secret put ADMIN_TOKEN`" };
  }
  const match = /^Bearer\s+(.+)$/i.exec(authorization ?? "");
  if (!match) return { ok: false, status: 401, reason: "missing bearer token" };
  // Digests first: timingSafeEqual needs equal lengths, and comparing digests leaks no length.
  const [given, expected] = await Promise.all([sha256(match[1]!.trim()), sha256(secret)]);
  if (!crypto.subtle.timingSafeEqual(given, expected)) return { ok: false, status: 401, reason: "wrong bearer token" };
  return { ok: true };
}

function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}
