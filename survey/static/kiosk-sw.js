// Service worker of a registered counter tablet (docs/kiosk.md, "Offline"). Served from /kiosk-sw.js
// so that its scope covers the tablet's address (/k/<token>) and its forms (/s/<token>?mode=kiosk);
// every other request passes by untouched.
//
// Online, it keeps the last fresh form, the thank-you page and their static files in a cache, and a
// stock of unused form nonces from the server. Offline, it shows the cached form with a nonce of its
// own from the stock, and a form sent then is queued in IndexedDB (the posted fields, nonce included)
// and answered with the thank-you page. The queue is sent to /s/k/<token>/queued when asked to by a
// page (on load, on `online`, every 30 s); an item leaves the queue only once the server says it is
// stored, and the nonce's key makes a second sending store nothing.
"use strict";

var CACHE = "hailong-kiosk-v1";
var DB_NAME = "hailong-kiosk";
var FORM_KEY = "/__kiosk/form";
var THANKS_KEY = "/__kiosk/thanks";
var STOCK_REFRESH_MS = 60 * 60 * 1000;

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) {  // a new version drops the caches of older ones
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name.indexOf("hailong-kiosk") === 0 && name !== CACHE; })
                            .map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

// ---------------------------------------------------------------- IndexedDB: queue and meta
function openDb() {
  return new Promise(function (resolve, reject) {
    var request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = function () {
      request.result.createObjectStore("queue", {keyPath: "id", autoIncrement: true});
      request.result.createObjectStore("meta", {keyPath: "key"});
    };
    request.onsuccess = function () { resolve(request.result); };
    request.onerror = function () { reject(request.error); };
  });
}

function run(storeName, mode, action) {
  return openDb().then(function (db) {
    return new Promise(function (resolve, reject) {
      var tx = db.transaction(storeName, mode);
      var result = action(tx.objectStore(storeName));
      tx.oncomplete = function () { db.close(); resolve(result && "result" in result ? result.result : undefined); };
      tx.onerror = function () { db.close(); reject(tx.error); };
    });
  });
}

function getMeta(key) {
  return run("meta", "readonly", function (store) { return store.get(key); })
    .then(function (row) { return row ? row.value : undefined; });
}
function setMeta(key, value) {
  return run("meta", "readwrite", function (store) { store.put({key: key, value: value}); });
}
function allQueued() { return run("queue", "readonly", function (store) { return store.getAll(); }); }

// ---------------------------------------------------------------- what a page asks for
self.addEventListener("message", function (event) {
  var message = event.data || {};
  if (message.type === "prepare") {
    event.waitUntil(prepare(message).catch(function () {}).then(sync).then(broadcast));
  } else if (message.type === "sync") {  // also renews a stale nonce stock of a tablet left idle
    event.waitUntil(sync().then(function () { return refreshStock(message.nonces); })
      .catch(function () {}).then(broadcast));
  }
});

function prepare(message) {
  return setMeta("urls", {queue: message.queue, nonces: message.nonces, form: message.form})
    .then(function () { return caches.open(CACHE); })
    .then(function (cache) {
      // Static files have content-hashed names: one already kept never changes.
      var steps = (message.assets || []).map(function (asset) {
        return cache.match(asset).then(function (hit) { return hit || cache.add(asset); });
      });
      steps.push(cache.match(THANKS_KEY).then(function (hit) {
        return hit || fetch(message.thanks, {credentials: "same-origin"}).then(function (response) {
          if (response.ok) { return cache.put(THANKS_KEY, response); }
        });
      }));
      steps.push(cache.match(FORM_KEY).then(function (hit) {
        return hit || fetch(message.form, {credentials: "same-origin"}).then(function (response) {
          if (response.ok) { return cache.put(FORM_KEY, response); }
        });
      }));
      return Promise.all(steps);
    })
    .then(function () { return refreshStock(message.nonces); });
}

function refreshStock(url) {
  return getMeta("stock").then(function (stock) {
    var fresh = stock && stock.nonces.length > 10 && Date.now() - stock.at < STOCK_REFRESH_MS;
    if (fresh) { return; }
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) { if (body) { return setMeta("stock", {at: Date.now(), nonces: body.nonces}); } });
  });
}

// Read and shorten the stock in one transaction: two forms can never get the same nonce.
function takeNonce() {
  var taken = null;
  return run("meta", "readwrite", function (store) {
    var request = store.get("stock");
    request.onsuccess = function () {
      var row = request.result;
      if (row && row.value.nonces.length) {
        taken = row.value.nonces.shift();
        store.put(row);
      }
    };
  }).then(function () { return taken; });
}

function broadcast() {
  return allQueued().then(function (items) {
    var failed = items.filter(function (item) { return item.failed; }).length;
    var status = {type: "queue", waiting: items.length - failed, failed: failed, ready: true};
    return self.clients.matchAll({type: "window"}).then(function (clients) {
      clients.forEach(function (client) { client.postMessage(status); });
    });
  });
}

// ---------------------------------------------------------------- sending the queue, once
var syncing = null;

function sync() {
  if (!syncing) {
    syncing = sendAll().catch(function () {}).then(function () { syncing = null; });
  }
  return syncing;
}

function sendAll() {
  return allQueued().then(function (items) {
    return items.filter(function (item) { return !item.failed; }).reduce(function (previous, item) {
      return previous.then(function (goOn) { return goOn && sendOne(item); });
    }, Promise.resolve(true));
  });
}

// Resolves to false when the rest must wait (offline, rate limited, server trouble).
function sendOne(item) {
  var url = item.queue + "?lang=" + encodeURIComponent(item.lang) + "&answered_at=" + item.queuedAt;
  return fetch(url, {method: "POST", body: item.body, credentials: "same-origin",
                     headers: {"Content-Type": "application/x-www-form-urlencoded", Accept: "application/json"}})
    .then(function (response) {
      if (response.ok) {
        return run("queue", "readwrite", function (store) { store.delete(item.id); }).then(function () { return true; });
      }
      if (response.status === 429 || response.status >= 500) { return false; }
      // Refused for good (a revoked tablet, a form the server cannot accept): kept for the staff to see.
      item.failed = response.status;
      return run("queue", "readwrite", function (store) { store.put(item); }).then(function () { return true; });
    }, function () { return false; });
}

// ---------------------------------------------------------------- requests
function isKioskPage(url) {
  return url.origin === self.location.origin &&
    (/^\/k\/[^/]+$/.test(url.pathname) || (/^\/s\/[^/]+(\/thanks|\/language)?$/.test(url.pathname) &&
                                          url.searchParams.get("mode") === "kiosk"));
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.mode === "navigate" && isKioskPage(url)) {
    if (request.method === "GET") { event.respondWith(page(request, url)); }
    else if (request.method === "POST" && /\/language$/.test(url.pathname)) { event.respondWith(language(request)); }
    else if (request.method === "POST" && !/\/thanks$/.test(url.pathname)) { event.respondWith(answer(request, url)); }
  } else if (request.method === "GET" && url.origin === self.location.origin && url.pathname.indexOf("/static/") === 0) {
    event.respondWith(fetch(request).catch(function () {
      return caches.match(request).then(function (hit) { return hit || Response.error(); });
    }));
  }
});

// A kiosk page: from the network (a fresh form is kept for later), else from the cache.
function page(request, url) {
  var thanks = /\/thanks$/.test(url.pathname);
  return fetch(request).then(function (response) {
    if (response.status === 200 && response.type === "basic") {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(thanks ? THANKS_KEY : FORM_KEY, copy); });
    }
    return response;
  }, function () {
    return thanks ? caches.match(THANKS_KEY).then(orError) : offlineForm();
  });
}

// The cached form with a nonce of its own, so that every form shown offline stores its own response.
function offlineForm() {
  return Promise.all([caches.match(FORM_KEY), takeNonce()]).then(function (found) {
    var cached = found[0];
    var nonce = found[1];
    if (!cached || !nonce) { return Response.error(); }
    return cached.text().then(function (html) {
      var field = /<input\b[^>]*\bname="nonce"[^>]*>/;
      var tag = html.match(field);
      // Never the cached page's own nonce: every form shown offline must store a response of its own.
      if (!tag || !/\bvalue="[^"]*"/.test(tag[0])) { return Response.error(); }
      html = html.replace(field, function (input) {
        return input.replace(/\bvalue="[^"]*"/, function () { return 'value="' + nonce + '"'; });
      });
      return new Response(html, {headers: {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}});
    });
  });
}

// The language switch needs the server; offline, 204 No Content leaves the page and its answers as
// they are instead of the browser's offline page.
function language(request) {
  return fetch(request).catch(function () { return new Response(null, {status: 204}); });
}

// A sent form: to the network; without one (or with a proxy that cannot reach the app: 502-504),
// into the queue, and the thank-you page. A form the app did take is stored once all the same.
function answer(request, url) {
  var body = request.clone().text();
  return fetch(request).then(function (response) {
    return response.status >= 502 && response.status <= 504 ? queue() : response;
  }, queue);

  function queue() {
    return Promise.all([body, getMeta("urls")]).then(function (found) {
      var urls = found[1];
      if (!urls) { return Response.error(); }
      var item = {body: found[0], queue: urls.queue, lang: url.searchParams.get("lang") || "vi", queuedAt: Date.now()};
      return run("queue", "readwrite", function (store) { store.add(item); }).then(function () {
        broadcast();
        return Response.redirect(url.pathname + "/thanks" + url.search, 303);
      });
    });
  }
}

function orError(hit) { return hit || Response.error(); }
