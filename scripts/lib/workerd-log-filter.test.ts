import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { filterExpectedDisconnectLogs, isExpectedDisconnectLog } from "./workerd-log-filter.ts";

// Verbatim messages from workerd 2026-11 (stack addresses shortened), as the vitest pool writes them.
const STACK = "stack: /work/main/node_modules/@cloudflare/workerd-linux-64/bin/workerd@28a3c60 /work/main/node_modules/@cloudflare/workerd-linux-64/bin/workerd@3ac7580";
const QUIRK =
  "As a quirk to support Unicode, we are encoding values as UTF-8 in the header, but in a browser this would likely result in a TypeError exception. Consider encoding this string in ASCII for compatibility with browser implementations of the Fetch specification.";
const EXPECTED = [
  `exception = rust/worker/ffi.rs:110: disconnected: client error (SendRequest)\n${STACK}\n`,
  "uncaught exception; source = Uncaught (in promise); stack = Error: Network connection lost.\n",
  `uncaught exception; exception = workerd/jsg/value.h:1535: disconnected: jsg.Error: Network connection lost.\n${STACK}\n`,
  `exception = rust/worker/ffi.rs:110: disconnected: HTTP body: error reading a body from connection\n${STACK}\n`,
  `A header value for "x-utf8" contains non-ASCII characters: "café" (raw bytes: "\\x63\\x61\\x66\\xc3\\xa9"). ${QUIRK}\n`,
];

describe("workerd log filter", () => {
  it("recognises workerd's messages for a reset or truncated origin connection", () => {
    for (const message of EXPECTED) expect(isExpectedDisconnectLog(message), message).toBe(true);
  });

  it("lets everything else through: other workerd errors, other uncaught exceptions, a message with more in it", () => {
    const others = [
      "uncaught exception; source = Uncaught (in promise); stack = Error: probe boom\n    at test/x.test.ts:3:5\n",
      "uncaught exception; source = Uncaught (in promise); stack = TypeError: Cannot read properties of undefined (reading 'body')\n",
      `exception = rust/worker/ffi.rs:110: disconnected: client error (Connect)\n${STACK}\n`,
      `exception = workerd/io/worker.c++:1234: failed: jsg.Error: Network connection lost.\n${STACK}\n`,
      // Two messages in one chunk, or an expected one with a real error after it.
      EXPECTED[1]! + "Error: something else\n",
      " ✓ test/origin-faults.test.ts (14 tests) 4687ms\n",
      "Network connection lost.\n",
      // The non-ASCII warning for any other header or value.
      `A header value for "x-name" contains non-ASCII characters: "café" (raw bytes: "\\x63\\x61\\x66\\xc3\\xa9"). ${QUIRK}\n`,
      `A header value for "x-utf8" contains non-ASCII characters: "naïve" (raw bytes: "\\x6e\\x61\\xc3\\xaf\\x76\\x65"). ${QUIRK}\n`,
    ];
    for (const message of others) expect(isExpectedDisconnectLog(message), message).toBe(false);
  });

  it("drops only the expected chunks from a stream, keeps the rest in order, and calls write callbacks", async () => {
    const written: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        written.push(chunk.toString("utf8"));
        done();
      },
    }) as unknown as NodeJS.WriteStream;
    const restore = filterExpectedDisconnectLogs(sink);
    expect(filterExpectedDisconnectLogs(sink)).toBeTypeOf("function"); // a second call does not wrap twice
    let called = 0;
    sink.write("before\n");
    sink.write(EXPECTED[0]!, () => called++);
    sink.write(Buffer.from(EXPECTED[1]!));
    sink.write("uncaught exception; source = Uncaught (in promise); stack = Error: real\n", "utf8", () => called++);
    await new Promise((r) => setImmediate(r));
    expect(written).toEqual(["before\n", "uncaught exception; source = Uncaught (in promise); stack = Error: real\n"]);
    expect(called).toBe(2);
    restore();
    sink.write(EXPECTED[1]!);
    expect(written.at(-1)).toBe(EXPECTED[1]);
  });
});
