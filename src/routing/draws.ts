/**
 * The draws the region choice takes (a ramp step, shedding, weights), evenly spread instead of
 * Math.random. A 30 % ramp step must send 30 % of the isolate's new sessions, not 30 % give or take
 * the noise of a few hundred coin flips: over a 5 s step of 700 sessions Math.random lands within
 * 1.7 points of the weight only about two times in three, and a regions drill saw a 30 % step at
 * 24.7 %. Each position within one choice (its first draw, its second, ...) has an additive
 * recurrence of its own, x(n+1) = x(n) + step mod 1, with an irrational step: over any run of
 * choices its values fill [0, 1) evenly (within a few in a thousand), and with steps that are
 * rationally independent the draws of one choice are spread evenly over the square too, so a shed
 * draw and a weight draw are not tied together. Per isolate, no coordination; a random start per
 * isolate keeps isolates from moving in step.
 */

/** √5 - 1 over 2, √2 - 1, √3 - 1, √5 - 2: irrational, and no integer combination of them is an integer. */
const STEPS = [0.6180339887498949, 0.41421356237309515, 0.7320508075688772, 0.2360679774997898] as const;

export class Draws {
  private readonly at: number[];
  private used = 0;

  constructor(start: () => number = Math.random) {
    this.at = STEPS.map(() => start());
  }

  /** The draw function for one choice: its k-th call reads sequence k (the last one past the fourth). */
  forChoice(): () => number {
    this.used = 0;
    return this.next;
  }

  private readonly next = (): number => {
    const i = Math.min(this.used++, STEPS.length - 1);
    const x = (this.at[i]! + STEPS[i]!) % 1;
    this.at[i] = x;
    return x;
  };
}
