/**
 * Drops workerd's own log lines for an outbound connection that the origin broke on purpose (and
 * one warning a test provokes on purpose, below), so a passing `npm test` reads as one.
 *
 * @cloudflare/vitest-plugin runs workerd in verbose mode and writes workerd's log messages straight
 * to this process's stdout/stderr (no vitest hook sees them). In verbose mode workerd logs every
 * outbound `fetch` whose connection is reset, or whose body is cut short, as an "uncaught
 * exception" with native stack addresses, even when the worker awaits that fetch inside
 * try/catch, as src/origin/client.ts does: a two-line worker that catches the rejection logs the
 * very same lines. The tests that reset and truncate connections (test/origin-faults.test.ts,
 * test/privacy.test.ts, test/config.test.ts) produce about 34 of them.
 *
 * Only messages that equal one of the patterns below, whole, are dropped; anything else, including
 * any other workerd error, still prints. A rejection that really goes unhandled is not hidden by
 * this: vitest reports it on its own ("Unhandled Rejection", with the test file) and fails the run.
 */

/** One log message as workerd's structured log handler writes it (message + "\n"). */
export const EXPECTED_DISCONNECT_LOGS: readonly RegExp[] = [
  // A connection reset before the response headers (fake origin mode "reset").
  /^exception = rust\/worker\/ffi\.rs:\d+: disconnected: client error \(SendRequest\)\nstack:[^\n]*\n$/,
  // A body cut short by the origin closing the connection (fake origin mode "truncate").
  /^exception = rust\/worker\/ffi\.rs:\d+: disconnected: HTTP body: error reading a body from connection\nstack:[^\n]*\n$/,
  // The same reset, as seen on the way into JavaScript, where the worker catches it.
  /^uncaught exception; source = Uncaught \(in promise\); stack = Error: Network connection lost\.\n$/,
  /^uncaught exception; exception = workerd\/jsg\/value\.h:\d+: disconnected: jsg\.Error: Network connection lost\.\nstack:[^\n]*\n$/,
  // test/header-bytes.test.ts serves a stored UTF-8 header value (x-utf8: café) from a string on
  // purpose: workerd warns each time a non-ASCII value is set. Only that header and value.
  /^A header value for "x-utf8" contains non-ASCII characters: "caf\u00e9" \(raw bytes: "\\x63\\x61\\x66\\xc3\\xa9"\)\. As a quirk to support Unicode, we are encoding values as UTF-8 in the header, but in a browser this would likely result in a TypeError exception\. Consider encoding this string in ASCII for compatibility with browser implementations of the Fetch specification\.\n$/,
];

export function isExpectedDisconnectLog(chunk: string): boolean {
  return EXPECTED_DISCONNECT_LOGS.some((pattern) => pattern.test(chunk));
}

type Write = NodeJS.WriteStream["write"];
const FILTERED = Symbol.for("edge-fallback.workerd-log-filter");

/**
 * Wraps `stream.write` so that a chunk which is exactly one expected disconnect message is
 * swallowed (its callback still runs). Returns a function that restores the original `write`.
 */
export function filterExpectedDisconnectLogs(stream: NodeJS.WriteStream): () => void {
  // Kept unbound on purpose: it is called with the stream as `this`, and restored as it was.
  // oxlint-disable-next-line typescript/unbound-method
  const original = stream.write;
  // A config loaded twice (watch mode) must not wrap twice.
  if (FILTERED in original) return () => {};
  const filtered = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    const text = typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString("utf8") : undefined;
    if (text !== undefined && isExpectedDisconnectLog(text)) {
      const callback = rest.find((arg): arg is (err?: Error | null) => void => typeof arg === "function");
      if (callback) queueMicrotask(() => callback(null));
      return true;
    }
    return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as Write;
  Object.defineProperty(filtered, FILTERED, { value: true });
  stream.write = filtered;
  return () => {
    if (stream.write === filtered) stream.write = original;
  };
}
