/**
 * The size of the bundle `wrangler deploy --dry-run --outdir dist` wrote, raw and gzipped, measured
 * the way wrangler measures it (all modules together, zlib gzip at the default level).
 *
 *   node scripts/build-size.ts [DIR]          print the sizes (DIR defaults to dist)
 *   node scripts/build-size.ts --clean [DIR]  empty DIR first, so no stale module is counted
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";

/** Cloudflare's limits on a Worker's compressed size (Workers Free / Workers Paid). */
const LIMIT_FREE = 3 * 1024 * 1024;
const LIMIT_PAID = 10 * 1024 * 1024;
/** What wrangler writes next to the modules and does not upload. */
const NOT_UPLOADED = /(\.map|^README\.md|^bundle-meta\.json)$/;

const args = process.argv.slice(2);
const clean = args.includes("--clean");
const dir = resolve(args.find((a) => !a.startsWith("--")) ?? "dist");

if (clean) {
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

if (!existsSync(dir)) {
  console.error(`build-size: ${dir} does not exist; run \`wrangler deploy --dry-run --outdir ${relative(process.cwd(), dir) || "."}\` first`);
  process.exit(1);
}

function walk(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const modules = walk(dir)
  .filter((path) => !NOT_UPLOADED.test(relative(dir, path)))
  .sort();
if (modules.length === 0) {
  console.error(`build-size: no modules in ${dir}`);
  process.exit(1);
}

const contents = modules.map((path) => readFileSync(path));
const all = Buffer.concat(contents);
const raw = all.byteLength;
const gzip = gzipSync(all).byteLength;

const kib = (n: number) => `${(n / 1024).toFixed(2)} KiB`;
const width = Math.max(...modules.map((m) => relative(dir, m).length));
console.log(`bundle in ${relative(process.cwd(), dir) || "."}/ (${modules.length} module${modules.length === 1 ? "" : "s"}):`);
modules.forEach((path, i) => {
  const bytes = contents[i]!;
  console.log(`  ${relative(dir, path).padEnd(width)}  ${String(bytes.byteLength).padStart(9)} B raw  ${String(gzipSync(bytes).byteLength).padStart(8)} B gzip`);
});
console.log(`total: ${raw} B raw (${kib(raw)}), ${gzip} B gzip (${kib(gzip)})`);
console.log(
  `limits: ${((gzip / LIMIT_FREE) * 100).toFixed(1)}% of the 3 MiB compressed limit on Workers Free, ${((gzip / LIMIT_PAID) * 100).toFixed(1)}% of 10 MiB on Workers Paid`,
);
if (gzip > LIMIT_PAID) {
  console.error("build-size: the bundle is over the Workers Paid limit; wrangler deploy would fail");
  process.exit(1);
}
