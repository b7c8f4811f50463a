/** Cache-Control directives that forbid a shared store, found without splitting the field into a list. */

// A directive is a token at the start or after a comma, ended by `=`, a comma or the end. A match
// inside a quoted argument (`no-cache="a, private"`) can only make us stricter.
const NO_STORE = /(?:^|,)[ \t]*no-store[ \t]*(?:[=,]|$)/i;
const PRIVATE = /(?:^|,)[ \t]*private[ \t]*(?:[=,]|$)/i;

/** `no-store` or `private` when `value` (a Cache-Control-shaped field, or null) forbids a shared store. */
export function storeDenial(value: string | null): "no-store" | "private" | undefined {
  if (value === null) return undefined;
  if (NO_STORE.test(value)) return "no-store";
  // Qualified `private="Set-Cookie"` counts as plain private: strict, since we cannot drop one field's influence on the body.
  if (PRIVATE.test(value)) return "private";
  return undefined;
}

export function hasNoStore(value: string): boolean {
  return NO_STORE.test(value);
}
