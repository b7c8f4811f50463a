/** Route patterns from configuration: "/api/" is a prefix, "/exact" is exact unless it ends in "/" or "*". */
export function matchRoute(patterns: readonly string[], path: string): string | undefined {
  for (const pattern of patterns) {
    if (pattern.endsWith("*")) {
      if (path.startsWith(pattern.slice(0, -1))) return pattern;
    } else if (pattern.endsWith("/")) {
      if (path.startsWith(pattern)) return pattern;
    } else if (path === pattern) {
      return pattern;
    }
  }
  return undefined;
}
