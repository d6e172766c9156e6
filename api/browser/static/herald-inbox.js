/* Herald's inbox client for browsers: the live stream (EventSource) and the inbox API (fetch).
 *
 * No dependencies, no build step. One global, HeraldInbox:
 *
 *   const inbox = HeraldInbox.create({
 *     token,                       // an inbox token from POST /v1/recipients/{id}/inbox-token
 *     apiBase: "",                 // where the API answers ("" = this page's origin)
 *     streamUrl: undefined,        // the stream (default apiBase + "/v1/inbox/stream")
 *     onItem(item) {},             // each new item once, in seq order; item.unread_count is fresh
 *     onCount(counts) {},          // {unread, ...} after a read-state change (this tab or another)
 *     onState(state) {},           // "connecting" | "live" | "reconnecting" | "expired"
 *   });
 *   inbox.listen(since);   // open the stream after `since`, the newest seq already shown
 *   await inbox.list({limit, cursor, status, archived});  // GET /v1/inbox
 *   await inbox.count();                                   // GET /v1/inbox/count
 *   await inbox.markRead(id); markUnread(id); archive(id); remove(id);
 *   await inbox.markAllRead(upTo);  // upTo defaults to the newest seq listed or streamed here,
 *                                   // so an item this page has not shown stays unread
 *   inbox.lastSeq; inbox.close();
 *
 * HeraldInbox.connect(options) is create(options) then listen(options.since).
 * After a drop the client reconnects with ?since=<last seq> and drops any seq it
 * has already passed on, so a reconnect neither loses nor repeats an item.
 */
(function (global) {
  "use strict";

  var FIRST_RETRY_MS = 500;
  var MAX_RETRY_MS = 15000;

  function InboxError(status, body) {
    var detail = (body && body.error) || {};
    this.name = "InboxError";
    this.status = status;
    this.code = detail.code || "http_" + status;
    this.message = detail.message || "the inbox answered " + status;
  }
  InboxError.prototype = Object.create(Error.prototype);

  function query(params) {
    var parts = [];
    Object.keys(params || {}).forEach(function (name) {
      var value = params[name];
      if (value !== undefined && value !== null && value !== "") {
        parts.push(encodeURIComponent(name) + "=" + encodeURIComponent(String(value)));
      }
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  function Inbox(options) {
    if (!options || !options.token) throw new TypeError("HeraldInbox.connect needs a token");
    this.token = options.token;
    this.apiBase = (options.apiBase || "").replace(/\/+$/, "");
    this.streamUrl = options.streamUrl || this.apiBase + "/v1/inbox/stream";
    this.lastSeq = null;     // the newest seq passed on from the stream
    this.newestShown = 0;    // the newest seq any list() returned
    this.handlers = options;
    this.source = null;
    this.retryMs = FIRST_RETRY_MS;
    this.retryTimer = null;
    this.closed = false;
  }

  Inbox.prototype._emit = function (name, value) {
    var handler = this.handlers[name];
    if (typeof handler === "function") handler(value);
  };

  Inbox.prototype._request = function (method, path, body) {
    var init = {method: method, headers: {"Authorization": "Bearer " + this.token}};
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(this.apiBase + path, init).then(function (response) {
      if (response.status === 204) return null;
      return response.json().catch(function () { return null; }).then(function (answer) {
        if (!response.ok) throw new InboxError(response.status, answer);
        return answer;
      });
    });
  };

  Inbox.prototype._item = function (path, id, method) {
    return this._request(method || "POST", "/v1/inbox/" + encodeURIComponent(id) + path);
  };

  Inbox.prototype.list = function (params) {
    var self = this;
    return this._request("GET", "/v1/inbox" + query(params)).then(function (page) {
      page.data.forEach(function (item) { self.newestShown = Math.max(self.newestShown, item.seq); });
      return page;
    });
  };
  Inbox.prototype.count = function () { return this._request("GET", "/v1/inbox/count"); };
  Inbox.prototype.markRead = function (id) { return this._item("/read", id); };
  Inbox.prototype.markUnread = function (id) { return this._item("/unread", id); };
  Inbox.prototype.archive = function (id) { return this._item("/archive", id); };
  Inbox.prototype.remove = function (id) { return this._item("", id, "DELETE"); };
  Inbox.prototype.markAllRead = function (upTo) {
    // Without an explicit bound, only what this client has listed or streamed is marked read.
    var bound = upTo === undefined ? Math.max(this.newestShown, this.lastSeq || 0) : upTo;
    return this._request("POST", "/v1/inbox/read-all", {up_to: bound});
  };

  Inbox.prototype.listen = function (since) {
    if (typeof since === "number") this.lastSeq = since;
    this._open();
    return this;
  };

  Inbox.prototype._open = function () {
    if (this.closed) return;
    var self = this;
    var params = {token: this.token};
    if (this.lastSeq !== null) params.since = this.lastSeq;
    this._emit("onState", this.source ? "reconnecting" : "connecting");
    var source = new EventSource(this.streamUrl + query(params));
    this.source = source;
    source.onopen = function () {
      self.retryMs = FIRST_RETRY_MS;
      self._emit("onState", "live");
    };
    source.addEventListener("notification", function (event) { self._onNotification(event); });
    source.addEventListener("count", function (event) { self._emit("onCount", JSON.parse(event.data)); });
    source.onerror = function () { self._dropped(source); };
  };

  Inbox.prototype._onNotification = function (event) {
    var item = JSON.parse(event.data);
    var seq = typeof item.seq === "number" ? item.seq : Number(event.lastEventId);
    if (this.lastSeq !== null && seq <= this.lastSeq) return;  // a replay of what was shown
    this.lastSeq = seq;
    this.newestShown = Math.max(this.newestShown, seq);
    this._emit("onItem", item);
    if (item.unread_count !== undefined) this._emit("onCount", {unread: item.unread_count});
  };

  Inbox.prototype._dropped = function (source) {
    // The browser's own retry would resend the URL's old `since`: reconnect from lastSeq instead.
    source.close();
    if (this.closed || source !== this.source) return;
    var self = this;
    this.count().then(function (counts) {
      self._emit("onCount", counts);  // what changed while the stream was down
      self._retry();
    }, function (error) {
      if (error && (error.status === 401 || error.status === 403)) {
        self._emit("onState", "expired");  // a new token is needed: connect() again with it
      } else {
        self._retry();
      }
    });
  };

  Inbox.prototype._retry = function () {
    var self = this;
    this._emit("onState", "reconnecting");
    this.retryTimer = setTimeout(function () { self._open(); }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  };

  Inbox.prototype.close = function () {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.source) this.source.close();
  };

  global.HeraldInbox = {
    create: function (options) { return new Inbox(options); },
    connect: function (options) { return new Inbox(options).listen(options.since); },
    InboxError: InboxError,
  };
})(typeof window !== "undefined" ? window : this);
