// The board's access to the API: the key (kept in this tab only), JSON reads, actions, and the
// live stream. Everything goes to the API that served the page: no other address is ever asked.
"use strict";

const Api = (() => {
  const KEY_ITEM = "quantrac.key";

  // A kiosk screen may be started as http://host:8000/#key=qk_… : the key is taken into this
  // tab's storage and removed from the address bar (a fragment never reaches a server or a log).
  function takeKeyFromAddress() {
    const match = /(?:^#|&)key=([^&]+)/.exec(location.hash);
    if (!match) return;
    sessionStorage.setItem(KEY_ITEM, decodeURIComponent(match[1]));
    const rest = location.hash.replace(/(^#|&)key=[^&]+/, "$1").replace(/^#&/, "#");
    history.replaceState(null, "", location.pathname + location.search + (rest === "#" ? "" : rest));
  }

  function key() { return sessionStorage.getItem(KEY_ITEM); }
  function setKey(value) {
    if (value) sessionStorage.setItem(KEY_ITEM, value.trim());
    else sessionStorage.removeItem(KEY_ITEM);
  }

  function headers(extra) {
    const h = Object.assign({ Accept: "application/json" }, extra || {});
    const k = key();
    if (k) h.Authorization = "Bearer " + k;
    return h;
  }

  class ApiError extends Error {
    constructor(status, detail) { super(detail); this.status = status; }
  }

  async function request(method, path, body) {
    const init = { method, headers: headers(body ? { "Content-Type": "application/json" } : {}) };
    if (body) init.body = JSON.stringify(body);
    const response = await fetch(path, init);
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
      throw new ApiError(response.status, detail);
    }
    return response;
  }

  async function get(path) { return (await request("GET", path)).json(); }
  async function post(path, body) { return (await request("POST", path, body)).json(); }

  // A file (CSV, XLSX) fetched with the key, then saved: a plain link could not carry the key.
  async function download(path, name) {
    const blob = await (await request("GET", path)).blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // Server-Sent Events read through fetch (EventSource cannot send the key). Calls
  // onEvent(name, data) per event and onState("open" | "closed"); reconnects after a break.
  function live(onEvent, onState) {
    let stopped = false;
    let controller = null;
    async function run() {
      while (!stopped) {
        controller = new AbortController();
        try {
          const response = await fetch("/events", { headers: headers({ Accept: "text/event-stream" }),
            signal: controller.signal, cache: "no-store" });
          if (!response.ok) throw new ApiError(response.status, response.statusText);
          onState("open");
          const reader = response.body.getReader();
          const decoder = new TextDecoder();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, { stream: true });
            let end;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              let name = "message";
              const data = [];
              for (const line of block.split("\n")) {
                if (line.startsWith("event:")) name = line.slice(6).trim();
                else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
              }
              if (data.length) onEvent(name, JSON.parse(data.join("\n")));
            }
          }
        } catch (error) {
          if (stopped) return;
        }
        onState("closed");
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
    run();
    return () => { stopped = true; if (controller) controller.abort(); };
  }

  return { takeKeyFromAddress, key, setKey, get, post, download, live, ApiError };
})();
