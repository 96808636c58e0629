// Service worker: caches the whole site (and the Pyodide runtime) so the app works offline after one visit.
// static/build.py fills in the three placeholders below; this source file is never served as it is.
"use strict";

const VERSION = "__CACHE_VERSION__";
const PRECACHE = /*__PRECACHE__*/[];
const RUNTIME_PREFIX = "__RUNTIME_PREFIX__"; // versioned CDN runtime URLs: immutable, cache-first
const SITE_CACHE = "mlp-site-" + VERSION;
const RUNTIME_CACHE = "mlp-runtime-v1"; // survives site updates (the runtime URLs carry their version)

function isRuntime(url) {
  return url.startsWith(RUNTIME_PREFIX);
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const site = await caches.open(SITE_CACHE);
    const runtime = await caches.open(RUNTIME_CACHE);
    await Promise.all(PRECACHE.map(async (rel) => {
      const url = new URL(rel, self.registration.scope).href;
      if (isRuntime(url)) {
        if (await runtime.match(url)) return;
        const resp = await fetch(url, { mode: "cors" });
        if (!resp.ok) throw new Error(`precache ${url}: HTTP ${resp.status}`);
        await runtime.put(url, resp);
      } else {
        // "no-cache": revalidate, so this version's cache never holds an older file from the HTTP cache.
        const resp = await fetch(new Request(url, { cache: "no-cache" }));
        if (!resp.ok) throw new Error(`precache ${url}: HTTP ${resp.status}`);
        await site.put(url, resp);
      }
    }));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith("mlp-site-") && key !== SITE_CACHE) await caches.delete(key);
    }
    const runtime = await caches.open(RUNTIME_CACHE); // drop files of another runtime version
    for (const req of await runtime.keys()) {
      if (!isRuntime(req.url)) await runtime.delete(req);
    }
    await self.clients.claim();
    for (const client of await self.clients.matchAll({ type: "window" })) {
      client.postMessage({ type: "sw-activated", version: VERSION });
    }
  })());
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = req.url;
  if (isRuntime(url)) {
    event.respondWith((async () => {
      const cache = await caches.open(RUNTIME_CACHE);
      const hit = await cache.match(url);
      if (hit) return hit;
      const resp = await fetch(req);
      if (resp.ok) await cache.put(url, resp.clone());
      return resp;
    })());
    return;
  }
  if (!url.startsWith(self.registration.scope)) return;
  event.respondWith((async () => {
    const cache = await caches.open(SITE_CACHE);
    const hit = await cache.match(req, { ignoreSearch: true });
    if (hit) return hit;
    if (req.mode === "navigate") {
      const index = await cache.match(new URL("index.html", self.registration.scope).href);
      try {
        return await fetch(req);
      } catch (err) {
        if (index) return index;
        throw err;
      }
    }
    return fetch(req);
  })());
});
