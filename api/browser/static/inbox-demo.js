/* The inbox demo page: a bell with the unread count and the list, an item marked read on click.
 *
 * The inbox token comes in the URL's fragment (#token=...), which the browser
 * never sends to a server, so it reaches no access log; the page then keeps it
 * in sessionStorage and takes it out of the address bar. Items are caller text:
 * they are only ever set as textContent, never parsed as HTML.
 */
(function () {
  "use strict";

  var TOKEN_KEY = "herald-inbox-token";
  var PAGE_SIZE = 50;
  var page = document.body.dataset;
  var bell = document.getElementById("unread-count");
  var list = document.getElementById("items");
  var state = document.getElementById("state");
  var inbox = null;

  function tokenFromFragment() {
    var fragment = new URLSearchParams(window.location.hash.slice(1));
    var token = fragment.get("token");
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token);
      history.replaceState(null, "", window.location.pathname);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function showCount(unread) {
    bell.textContent = String(unread);
    bell.dataset.unread = String(unread);
  }

  function text(tag, className, value) {
    var element = document.createElement(tag);
    element.className = className;
    element.textContent = value == null ? "" : String(value);
    return element;
  }

  function when(stamp) {
    var moment = new Date(stamp);
    return isNaN(moment) ? "" : moment.toLocaleString(undefined, {dateStyle: "medium", timeStyle: "short"});
  }

  function row(item) {
    var entry = document.createElement("li");
    entry.className = "item" + (item.read_at ? " read" : " unread");
    entry.dataset.id = item.id;
    entry.dataset.seq = String(item.seq);
    entry.appendChild(text("span", "title", item.title));
    entry.appendChild(text("span", "body", item.body));
    var created = text("time", "created", when(item.created_at));
    created.dateTime = item.created_at || "";
    entry.appendChild(created);
    entry.addEventListener("click", function () { markRead(entry); });
    return entry;
  }

  function markRead(entry) {
    if (entry.classList.contains("read")) return;
    inbox.markRead(entry.dataset.id).then(function (counts) {
      entry.classList.replace("unread", "read");
      showCount(counts.unread);  // the API answers with the counts after the change
    }, showProblem);
  }

  function markAllRead() {
    // Up to the newest item this page shows: one arriving meanwhile stays unread.
    var upTo = Math.max(inbox.newestShown, inbox.lastSeq || 0);
    inbox.markAllRead(upTo).then(function (counts) {
      list.querySelectorAll(".item.unread").forEach(function (entry) {
        if (Number(entry.dataset.seq) <= upTo) entry.classList.replace("unread", "read");
      });
      showCount(counts.unread);
    }, showProblem);
  }

  function showProblem(error) {
    state.textContent = error && error.message ? error.message : "something went wrong";
    state.dataset.state = "problem";
  }

  function showState(name) {
    var words = {connecting: "connecting…", live: "live", reconnecting: "reconnecting…",
                 expired: "the inbox token has expired: open the page with a new one"};
    state.textContent = words[name] || name;
    state.dataset.state = name;
  }

  function start(token) {
    inbox = HeraldInbox.create({
      token: token,
      streamUrl: page.streamUrl || undefined,
      onItem: function (item) { list.insertBefore(row(item), list.firstChild); },
      onCount: function (counts) { showCount(counts.unread !== undefined ? counts.unread : counts.unread_count); },
      onState: showState,
    });
    inbox.list({limit: PAGE_SIZE, status: "all"}).then(function (answer) {
      var newest = 0;
      answer.data.forEach(function (item) {
        list.appendChild(row(item));
        newest = Math.max(newest, item.seq);
      });
      showCount(answer.unread_count);
      // The stream starts after the newest item listed: nothing in between is lost or shown twice.
      inbox.listen(newest);
    }, showProblem);
  }

  var token = tokenFromFragment();
  if (token) {
    document.getElementById("read-all").addEventListener("click", markAllRead);
    start(token);
  } else {
    state.textContent = "open this page as /demo/inbox#token=<an inbox token>";
    state.dataset.state = "no-token";
  }
})();
