// CPU floor for bench/cpu.sh: the least a Worker can do for a gateway request in workerd —
// forward the body to the upstream chat endpoint and return its response untouched. What
// workerd spends on this (HTTP in, fetch out, the bodies) is not the gateway's own work.
export default {
  async fetch(request, env) {
    const shape = new URL(request.url).searchParams.get("shape") === "stream" ? "stream" : "plain";
    return fetch(`${env.UPSTREAM}/${shape}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer bench-upstream-key" },
      body: request.body,
    });
  },
};
