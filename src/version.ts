/** The worker's version, from package.json, reported in health and metrics. */
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
