/**
 * A real network partition for `npm run drill -- <plan> --netns`: the fake origins run in a
 * network namespace of their own, reached over a veth pair, and a "partition" phase installs a
 * blackhole route in that namespace for the worker's address. The origin's replies, SYN-ACKs
 * included, are then discarded without a trace: the worker sees no answer, no reset and no ICMP,
 * as behind a real partition (requests still arrive; replies are lost). Needs root and iproute2.
 * Everything it creates carries the drill's pid and is removed on dispose, even after a crash
 * of the drill's own code.
 */
import { spawnSync } from "node:child_process";

export interface Netns {
  name: string;
  /** The worker's side of the veth pair (the source of every request to the origins). */
  hostIp: string;
  /** Where the origins listen inside the namespace. */
  originIp: string;
  /** Command prefix that runs a program inside the namespace. */
  exec: string[];
  partitioned: boolean;
  partition(on: boolean): void;
  dispose(): void;
}

function ip(args: string[], what: string): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.error) throw new Error(`--netns needs iproute2's \`ip\` (apt-get install -y iproute2): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`--netns could not ${what}: ip ${args.join(" ")}: ${(r.stderr || r.stdout).trim()}`);
}

/**
 * `index` numbers the namespaces of one drill (one per region): 0 keeps the names it always had;
 * each index has its own /30, so regions partition one at a time.
 */
export function createNetns(index = 0): Netns {
  if (process.getuid?.() !== 0) throw new Error("--netns creates a network namespace and a veth pair, which needs root; run the drill as root, or without --netns");
  if (!Number.isInteger(index) || index < 0 || index > 7) throw new Error(`a drill has at most 8 network namespaces, got index ${index}`);
  const id = process.pid % 100_000;
  const suffix = index === 0 ? "" : `r${index}`;
  const name = `efdrill${id}${suffix}`;
  // Interface names are at most 15 characters; addresses from a /30 of 10.231.0.0/16 by pid and index.
  const host = `efh${id}${suffix}`;
  const peer = `efo${id}${suffix}`;
  const slot = ((id % 2048) * 8 + index) % 16_384;
  const subnet = `10.231.${Math.floor(slot / 64)}.${(slot % 64) * 4}`;
  const base = subnet.split(".").map(Number);
  const hostIp = `${base[0]}.${base[1]}.${base[2]}.${base[3]! + 1}`;
  const originIp = `${base[0]}.${base[1]}.${base[2]}.${base[3]! + 2}`;
  const undo: (() => void)[] = [];
  const dispose = () => {
    for (const step of undo.reverse()) {
      try {
        step();
      } catch {
        // Best effort: the namespace's own removal takes its routes and interfaces with it.
      }
    }
    undo.length = 0;
  };
  try {
    ip(["netns", "add", name], "create a namespace");
    undo.push(() => ip(["netns", "del", name], "remove the namespace"));
    ip(["link", "add", host, "type", "veth", "peer", "name", peer], "create a veth pair");
    undo.push(() => ip(["link", "del", host], "remove the veth pair"));
    ip(["link", "set", peer, "netns", name], "move the veth end into the namespace");
    ip(["addr", "add", `${hostIp}/30`, "dev", host], "address the host end");
    ip(["link", "set", host, "up"], "bring up the host end");
    ip(["netns", "exec", name, "ip", "addr", "add", `${originIp}/30`, "dev", peer], "address the origin end");
    ip(["netns", "exec", name, "ip", "link", "set", peer, "up"], "bring up the origin end");
    ip(["netns", "exec", name, "ip", "link", "set", "lo", "up"], "bring up the namespace's loopback");
  } catch (err) {
    dispose();
    throw err;
  }
  const ns: Netns = {
    name,
    hostIp,
    originIp,
    exec: ["ip", "netns", "exec", name],
    partitioned: false,
    partition(on: boolean) {
      if (on === ns.partitioned) return;
      ip(["netns", "exec", name, "ip", "route", on ? "add" : "del", "blackhole", `${hostIp}/32`], on ? "partition the origins" : "heal the partition");
      ns.partitioned = on;
    },
    dispose,
  };
  return ns;
}
