/**
 * Spellings of /__edge that a client can send and the URL parser leaves non-canonical: the
 * normalizer must call each reserved (test/reserved-path.test.ts) and the worker must answer
 * each itself, never proxying it (test/reserved-namespace.test.ts).
 */
export const RESERVED_SPELLINGS = [
  "//__edge/admin/breakers/primary/open",
  "//__edge//admin",
  "/__edge//admin",
  "/__EDGE/health",
  "/__Edge/",
  "/__edge%2Fadmin",
  "/__edge%2fadmin",
  "/%5f%5fedge/",
  "/%5F%5Fedge/health",
  "/__%65dge/health",
  "/__edge;x",
  "/__edge;jsessionid=1/admin",
  "/__edge%3bx",
  "/__edge%5cadmin",
  "/__edge%252fadmin",
  "/%255f%255fedge/",
  "/%2f__edge/health",
  "/x/%252e%252e/__edge/health",
  "/__edge./health",
  "/__edge%20/health",
  "/__edge%00.html",
  "/%EF%BC%BF%EF%BC%BFedge/",
];
