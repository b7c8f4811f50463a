/** latency mode on its own: the EWMA, and a leader that two close regions never swap and a much faster one takes only after the dwell. */
import { describe, expect, it } from "vitest";
import { LatencyEwma, nextLeader } from "../src/routing/latency.ts";

const MARGIN = { ratio: 0.2, minMs: 0 };
const DWELL = 30_000;
const T0 = 1_000_000;

describe("LatencyEwma", () => {
  it("starts at the first sample and moves alpha of the way to each next one", () => {
    const e = new LatencyEwma(0.2);
    expect(e.value).toBeUndefined();
    expect(e.observe(100)).toBe(100);
    expect(e.observe(200)).toBe(120);
    expect(e.observe(120)).toBe(120);
    const instant = new LatencyEwma(1);
    instant.observe(50);
    expect(instant.observe(10)).toBe(10);
  });
});

describe("nextLeader", () => {
  const both = new Set(["a", "b"]);

  it("two regions within 10 % of each other never swap, over ten simulated minutes of noisy samples", () => {
    const a = new LatencyEwma(0.2);
    const b = new LatencyEwma(0.2);
    let seed = 42;
    const noise = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return (seed / 2 ** 31 - 0.5) * 20; // -10..10 ms
    };
    // a leads (the slower one, the harder case): b is about 8 % faster, inside the 20 % margin.
    let leader: string | undefined = "a";
    let lastChangeAt = -Infinity;
    const leaders = new Set<string>();
    for (let t = T0; t < T0 + 600_000; t += 100) {
      a.observe(100 + noise());
      b.observe(92 + noise());
      const next = nextLeader(leader, new Map([["a", a.value], ["b", b.value]]), both, MARGIN, lastChangeAt, t, DWELL);
      if (next !== leader) lastChangeAt = t;
      leader = next;
      leaders.add(leader!);
    }
    expect([...leaders]).toEqual(["a"]);
  });

  it("a region 2x faster takes over only once the dwell since the last change has passed", () => {
    const ewmas = new Map<string, number | undefined>([
      ["a", 100],
      ["b", 50],
    ]);
    expect(nextLeader("a", ewmas, both, MARGIN, T0, T0 + DWELL - 1, DWELL)).toBe("a");
    expect(nextLeader("a", ewmas, both, MARGIN, T0, T0 + DWELL, DWELL)).toBe("b");
  });

  it("a challenger must be faster by more than the margin: 80 ms against 100 is not enough, 79 is", () => {
    expect(nextLeader("a", new Map([["a", 100], ["b", 80]]), both, MARGIN, -Infinity, T0, DWELL)).toBe("a");
    expect(nextLeader("a", new Map([["a", 100], ["b", 79]]), both, MARGIN, -Infinity, T0, DWELL)).toBe("b");
  });

  it("and by more than min_switch_ms: 1.5 ms against 2.5 is 40 % faster but noise, 10 ms against 16 is a lead", () => {
    const floor = { ratio: 0.2, minMs: 5 };
    expect(nextLeader("a", new Map([["a", 2.5], ["b", 1.5]]), both, floor, -Infinity, T0, DWELL)).toBe("a");
    expect(nextLeader("a", new Map([["a", 16], ["b", 10]]), both, floor, -Infinity, T0, DWELL)).toBe("b");
    expect(nextLeader("a", new Map([["a", 15], ["b", 10]]), both, floor, -Infinity, T0, DWELL)).toBe("a");
  });

  it("an unusable leader gives way at once to the fastest usable region, dwell or not", () => {
    const ewmas = new Map<string, number | undefined>([
      ["a", 10],
      ["b", 90],
      ["c", 60],
    ]);
    expect(nextLeader("a", ewmas, new Set(["b", "c"]), MARGIN, T0, T0 + 1, DWELL)).toBe("c");
  });

  it("with no leader yet: the fastest measured usable region, else the first usable in ORIGINS order", () => {
    expect(nextLeader(undefined, new Map([["a", undefined], ["b", 40]]), both, MARGIN, -Infinity, T0, DWELL)).toBe("b");
    expect(nextLeader(undefined, new Map([["a", undefined], ["b", undefined]]), both, MARGIN, -Infinity, T0, DWELL)).toBe("a");
    expect(nextLeader(undefined, new Map([["a", 5]]), new Set(), MARGIN, -Infinity, T0, DWELL)).toBeUndefined();
    // Nothing usable: the incumbent stays (there is nowhere better to go).
    expect(nextLeader("a", new Map([["a", 5], ["b", 1]]), new Set(), MARGIN, -Infinity, T0, DWELL)).toBe("a");
  });

  it("keeps an incumbent that has no samples yet", () => {
    expect(nextLeader("a", new Map([["a", undefined], ["b", 1]]), both, MARGIN, -Infinity, T0, DWELL)).toBe("a");
  });
});
