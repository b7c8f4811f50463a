/**
 * The copy budget's answer: a client whose isolate memory holds a copy it may be served is answered
 * from it once the origin passes ORIGIN_COPY_BUDGET_MS (or the origin's recent p99), and the origin
 * is judged in the background exactly as if the client had waited. Reaching the budget is no
 * failure: the breaker and the routing layer hear only the try's final outcome.
 */
import { lateAnswer, refreshCopy } from "../lkg/write.ts";
import type { Attempt, OverBudget } from "../origin/attempt.ts";
import type { Region } from "../runtime.ts";
import type { RequestContext } from "./context.ts";
import { fromMemory } from "./fallback.ts";
import type { AttemptTrace } from "./record.ts";

/** An attempt, or the copy already served because the origin was over budget. */
export type Tried = Attempt | { kind: "served"; response: Response };

/**
 * `heard`: told the try's final outcome when the client did not wait for it (with several regions,
 * the routing layer's succeeded/failed). A copy that left memory meanwhile (evicted, aged out)
 * serves nothing: the request then waits for the origin as it would have without the budget.
 */
export async function answerOverBudget(x: RequestContext, region: Region, trace: AttemptTrace, tried: OverBudget, heard?: (final: Attempt) => void): Promise<Tried> {
  const response = fromMemory(x, "origin-over-budget");
  if (response === undefined) return tried.judging;
  trace.failure = "over_budget";
  x.ctx.waitUntil(judgeLater(x, region, tried.judging, heard));
  return { kind: "served", response };
}

/** The try's outcome, handled as the slow path handles one whose client was served from the copy. */
async function judgeLater(x: RequestContext, region: Region, judging: Promise<Attempt>, heard: ((final: Attempt) => void) | undefined): Promise<void> {
  const final = await judging;
  heard?.(final);
  // The breaker's report goes out now: the request's own chance (finish) passed before it was known.
  const reporting = region.view.background(x.clock.now());
  if (final.kind === "ok") {
    // settle() recorded it in the baseline and told the breaker: only the copy is left to refresh.
    await refreshCopy(x, region, final.result);
  } else if (final.kind === "failed") {
    if (final.inFlight) await lateAnswer(x, region, await final.inFlight.late);
    await final.response?.response.body?.cancel();
  }
  await reporting;
}
