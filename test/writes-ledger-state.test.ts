/**
 * The ledger record's state machine over random sequences of every call and of time: a done key
 * never changes its result, attempts never go down, one claim and one pass-through attempt at a
 * time, a mismatched payload never changes anything, the status id is the record's for life.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { begin, claim, complete, deadLettered, delivered, expiresAt, queue, release, unclaim, type LedgerRecord, type Step } from "../src/writes/ledger-state.ts";
import type { StoredResult } from "../src/writes/types.ts";
import { SEED } from "./property-arbitraries.ts";

const FPS = ["a".repeat(64), "b".repeat(64)];
const TOKENS = ["t1", "t2", "t3"];
const PASS_MS = 1000;

const result = (n: number): StoredResult => ({ status: 200 + n, headers: [], body: undefined, bodyBytes: 0, region: "east", epoch: 1, at: n });

type Op =
  | { op: "begin"; fp: number; plan: "pass" | "queue" }
  | { op: "markQueued" }
  | { op: "complete"; n: number }
  | { op: "release" }
  | { op: "claim"; token: number; leaseMs: number }
  | { op: "delivered"; token: number; n: number }
  | { op: "unclaim"; token: number }
  | { op: "deadLettered" }
  | { op: "advance"; ms: number }
  | { op: "alarm" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("begin" as const), fp: fc.integer({ min: 0, max: 1 }), plan: fc.constantFrom("pass" as const, "queue" as const) }),
  fc.constant({ op: "markQueued" as const }),
  fc.record({ op: fc.constant("complete" as const), n: fc.integer({ min: 0, max: 9 }) }),
  fc.constant({ op: "release" as const }),
  fc.record({ op: fc.constant("claim" as const), token: fc.integer({ min: 0, max: 2 }), leaseMs: fc.integer({ min: 1, max: 3000 }) }),
  fc.record({ op: fc.constant("delivered" as const), token: fc.integer({ min: 0, max: 2 }), n: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ op: fc.constant("unclaim" as const), token: fc.integer({ min: 0, max: 2 }) }),
  fc.constant({ op: "deadLettered" as const }),
  fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 4000 }) }),
  fc.constant({ op: "alarm" as const }),
);

/** Runs the ops, checking every invariant after each; throws with the step on a violation. */
function run(ops: Op[]): void {
  let record: LedgerRecord | undefined;
  let now = 1_000_000;
  let secrets = 0;
  // What the callers were told, to check the answers against each other.
  let claimHolder: { token: string; until: number } | undefined;
  let passHolderUntil: number | undefined;
  let doneResult: StoredResult | undefined;
  for (const [i, o] of ops.entries()) {
    const before = record;
    const at = `step ${i} ${JSON.stringify(o)}`;
    const save = <A>(step: Step<A>): A => {
      if (step.next !== undefined) record = step.next ?? undefined;
      return step.answer;
    };
    switch (o.op) {
      case "begin": {
        const answer = save(begin(record, { key: "k", fingerprint: FPS[o.fp]!, kind: "write", plan: o.plan, why: "writer-down", lifetimeMs: 10_000, deliveryTimeoutMs: PASS_MS, statusId: `id.${secrets++}` }, now));
        if (before && before.fingerprint !== FPS[o.fp]) {
          expect(answer, at).toEqual({ kind: "mismatch" });
          expect(record, at).toBe(before);
        }
        if (answer.kind === "new") {
          if (before) {
            expect(answer.takeover, at).toBe(true);
            // Never while another pass-through attempt is within its deadline, nor while a delivery holds a live claim.
            if (passHolderUntil !== undefined) expect(now >= passHolderUntil, at).toBe(true);
            if (claimHolder && before.state === "delivering") expect(now >= claimHolder.until, at).toBe(true);
            expect(before.state === "done", at).toBe(false);
          } else expect(answer.takeover, at).toBe(false);
          passHolderUntil = o.plan === "pass" ? now + PASS_MS : undefined;
          claimHolder = undefined;
        }
        if (answer.kind === "done") expect(answer.result, at).toEqual(doneResult);
        break;
      }
      case "markQueued":
        if (save(queue(record, "outcome-unknown")).kind !== "done") passHolderUntil = undefined;
        break;
      case "complete":
      case "delivered": {
        const answer = save(o.op === "complete" ? complete(record, result(o.n), now) : delivered(record, result(o.n), now));
        if (answer.kind === "recorded") {
          expect(doneResult, at).toBeUndefined();
          doneResult = result(o.n);
          passHolderUntil = undefined;
          claimHolder = undefined;
        }
        break;
      }
      case "release": {
        const answer = save(release(record));
        if (answer.kind === "released") {
          expect(before && (before.state === "in-flight" || (before.state === "queued" && before.claim === undefined && before.reason === undefined)), at).toBe(true);
          passHolderUntil = undefined;
          claimHolder = undefined;
          doneResult = undefined;
        }
        break;
      }
      case "claim": {
        const token = TOKENS[o.token]!;
        const answer = save(claim(record, token, o.leaseMs, now));
        if (answer.kind === "claimed") {
          if (claimHolder && claimHolder.token !== token) expect(now >= claimHolder.until, at).toBe(true);
          if (passHolderUntil !== undefined) expect(now >= passHolderUntil, at).toBe(true);
          expect(answer.attempt, at).toBe(record?.attempts);
          claimHolder = { token, until: now + o.leaseMs };
          passHolderUntil = undefined;
        }
        if (answer.kind === "done") expect(doneResult, at).toBeDefined();
        break;
      }
      case "unclaim":
        if (save(unclaim(record, TOKENS[o.token]!, "failed")).kind === "unclaimed") {
          expect(claimHolder?.token, at).toBe(TOKENS[o.token]);
          claimHolder = undefined;
        }
        break;
      case "deadLettered":
        if (save(deadLettered(record, "dead", now)).kind === "failed") {
          claimHolder = undefined;
          passHolderUntil = undefined;
        }
        break;
      case "advance":
        now += o.ms;
        break;
      case "alarm": {
        const deadline = record ? expiresAt(record) : undefined;
        if (record && deadline !== undefined && now >= deadline) {
          record = undefined;
          doneResult = undefined;
          passHolderUntil = undefined;
          claimHolder = undefined;
        }
        break;
      }
    }
    // Invariants of the record itself, whatever the call.
    if (before && record) {
      expect(record.statusId, at).toBe(before.statusId);
      expect(record.fingerprint, at).toBe(before.fingerprint);
      expect(record.attempts >= before.attempts, at).toBe(true);
      if (before.state === "done") expect(record, at).toBe(before);
    }
    if (before?.state === "done" && !record) expect(o.op, at).toBe("alarm");
    if (record?.state === "done") expect(record.result, at).toEqual(doneResult);
    if (record?.state === "delivering") expect(record.claim, at).toBeDefined();
  }
}

describe("ledger state machine, over random call sequences", () => {
  it("keeps every invariant", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
        run(ops);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
