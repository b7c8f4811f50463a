/** The baseline for every benchmark: a bare pass-through worker, nothing but fetch(origin). */
interface BareEnv {
  ORIGIN_URL: string;
}

export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(new URL(url.pathname + url.search, env.ORIGIN_URL), {
      method: request.method,
      headers: request.headers,
      body: request.method === "GET" || request.method === "HEAD" ? null : request.body,
      redirect: "manual",
      cache: "no-store",
    });
  },
} satisfies ExportedHandler<BareEnv>;
