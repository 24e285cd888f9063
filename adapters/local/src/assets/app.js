// The local chat page's script: sends what the person types to /api/chat and shows the replies.
// Replies are markdown: every piece of text is HTML-escaped FIRST, and only then are the few
// supported constructs (bold, italics, code, code blocks, lists, links, line breaks) turned into
// tags, so nothing a reply contains can become markup of its own. No dependencies, no build step.
"use strict";

(function () {
  const USER_KEY = "whisperengine.user";
  const USER_PATTERN = /^[^\s/:\u0000-\u001f\u007f-\u009f]{1,64}$/u;

  // ---- Markdown rendering (pure functions; also loadable by node for a quick check) ----

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  // Only web and mail links; `escapedUrl` is already escaped, so it is safe inside a quoted attribute.
  function isSafeUrl(escapedUrl) {
    return /^(https?:\/\/|mailto:)/i.test(escapedUrl);
  }

  function linkHtml(escapedUrl, labelHtml) {
    return '<a href="' + escapedUrl + '" target="_blank" rel="noopener noreferrer">' + labelHtml + "</a>";
  }

  // Splits a bare URL from punctuation or escaped quotes/brackets that end the sentence around it.
  function trimUrl(url) {
    let trailing = "";
    for (;;) {
      const entity = url.match(/(&gt;|&lt;|&quot;|&#39;)$/);
      if (entity) {
        trailing = entity[0] + trailing;
        url = url.slice(0, -entity[0].length);
      } else if (/[.,;:!?)\]]$/.test(url)) {
        trailing = url.slice(-1) + trailing;
        url = url.slice(0, -1);
      } else {
        return [url, trailing];
      }
    }
  }

  // Inline markdown on one line of ALREADY ESCAPED text.
  function renderInline(escaped) {
    const held = [];
    const hold = function (html) {
      held.push(html);
      return "\u0000" + (held.length - 1) + "\u0000";
    };
    let text = escaped.replace(/`([^`]+)`/g, function (_, code) {
      return hold("<code>" + code + "</code>");
    });
    text = text.replace(/\[([^\]]+)\]\(([^()\s]+)\)/g, function (whole, label, url) {
      return isSafeUrl(url) ? hold(linkHtml(url, label)) : whole;
    });
    text = text.replace(/&lt;((?:https?:\/\/|mailto:)[^\s&]+)&gt;/gi, function (_, url) {
      return hold(linkHtml(url, url));
    });
    text = text.replace(/\bhttps?:\/\/[^\s\u0000]+/gi, function (found) {
      const parts = trimUrl(found);
      return hold(linkHtml(parts[0], parts[0])) + parts[1];
    });
    text = text
      .replace(/\*\*(?=\S)([^*]*?\S)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[^\w])__(?=\S)([^_]*?\S)__(?!\w)/g, "$1<strong>$2</strong>")
      .replace(/(^|[^*\w])\*(?=\S)([^*]*?\S)\*(?![*\w])/g, "$1<em>$2</em>")
      .replace(/(^|[^\w])_(?=\S)([^_]*?\S)_(?!\w)/g, "$1<em>$2</em>");
    return text.replace(/\u0000(\d+)\u0000/g, function (_, index) {
      return held[Number(index)];
    });
  }

  function renderMarkdown(source) {
    const lines = String(source).replace(/\u0000/g, "").replace(/\r\n?/g, "\n").split("\n");
    const out = [];
    let paragraph = [];
    let list = null;
    let code = null;
    const inline = function (line) {
      return renderInline(escapeHtml(line));
    };
    const flushParagraph = function () {
      if (paragraph.length) {
        out.push("<p>" + paragraph.map(inline).join("<br>") + "</p>");
        paragraph = [];
      }
    };
    const flushList = function () {
      if (list) {
        const tag = list.ordered ? "ol" : "ul";
        out.push("<" + tag + ">" + list.items.map(function (item) {
          return "<li>" + inline(item) + "</li>";
        }).join("") + "</" + tag + ">");
        list = null;
      }
    };
    const flushCode = function () {
      const language = code.language ? ' data-language="' + escapeHtml(code.language) + '"' : "";
      out.push("<pre><code" + language + ">" + escapeHtml(code.lines.join("\n")) + "</code></pre>");
      code = null;
    };
    for (const line of lines) {
      if (code) {
        if (line.trim().startsWith("```")) {
          flushCode();
        } else {
          code.lines.push(line);
        }
        continue;
      }
      const fence = line.trim().match(/^```\s*([\w+#.-]*)/);
      if (fence) {
        flushParagraph();
        flushList();
        code = { language: fence[1], lines: [] };
        continue;
      }
      const item = line.match(/^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/);
      if (item) {
        flushParagraph();
        const ordered = !item[1];
        if (list && list.ordered !== ordered) {
          flushList();
        }
        if (!list) {
          list = { ordered: ordered, items: [] };
        }
        list.items.push(item[3]);
        continue;
      }
      if (line.trim() === "") {
        flushParagraph();
        flushList();
        continue;
      }
      flushList();
      const heading = line.match(/^#{1,6}\s+(.*)$/);
      if (heading) {
        flushParagraph();
        out.push('<p class="heading"><strong>' + inline(heading[1]) + "</strong></p>");
        continue;
      }
      paragraph.push(line);
    }
    if (code) {
      flushCode();
    }
    flushParagraph();
    flushList();
    return out.join("");
  }

  if (typeof module !== "undefined" && module.exports) {
    module.exports = { escapeHtml: escapeHtml, renderInline: renderInline, renderMarkdown: renderMarkdown };
  }
  if (typeof document === "undefined") {
    return;
  }

  // ---- The page ----

  const log = document.getElementById("log");
  const composer = document.getElementById("composer");
  const message = document.getElementById("message");
  const send = document.getElementById("send");
  const userForm = document.getElementById("user-form");
  const userInput = document.getElementById("user");
  const companionName = (document.getElementById("companion-name") || {}).textContent || "Companion";
  let defaultUser = "you";
  let busy = false;

  function storedUser() {
    try {
      return window.localStorage.getItem(USER_KEY);
    } catch (_) {
      return null;
    }
  }

  function storeUser(name) {
    try {
      window.localStorage.setItem(USER_KEY, name);
    } catch (_) {
      // Storage may be off (private windows); the name then lasts for this page only.
    }
  }

  function currentUser() {
    const name = userInput.value.trim();
    return USER_PATTERN.test(name) ? name : defaultUser;
  }

  function scrollToEnd() {
    log.lastElementChild && log.lastElementChild.scrollIntoView({ block: "end" });
  }

  function appendEntry(kind, who, bodyNode) {
    const entry = document.createElement("li");
    entry.className = "entry " + kind;
    const name = document.createElement("span");
    name.className = "who";
    name.textContent = who;
    const body = document.createElement("div");
    body.className = "body";
    body.appendChild(bodyNode);
    entry.append(name, body);
    log.appendChild(entry);
    scrollToEnd();
    return entry;
  }

  function textNode(text) {
    const paragraph = document.createElement("p");
    paragraph.className = "plain";
    paragraph.textContent = text;
    return paragraph;
  }

  function renderCard(card) {
    const figure = document.createElement("figure");
    figure.className = "card";
    const caption = document.createElement("figcaption");
    caption.textContent = card.title || "";
    figure.appendChild(caption);
    const fields = Array.isArray(card.fields) ? card.fields : [];
    if (fields.length) {
      const table = document.createElement("table");
      for (const field of fields) {
        const row = table.insertRow();
        const name = document.createElement("th");
        name.scope = "row";
        name.textContent = field.name;
        const value = document.createElement("td");
        value.innerHTML = renderInline(escapeHtml(field.value));
        row.append(name, value);
      }
      figure.appendChild(table);
    }
    if (card.footer) {
      const footer = document.createElement("p");
      footer.className = "card-footer";
      footer.innerHTML = renderInline(escapeHtml(card.footer));
      figure.appendChild(footer);
    }
    return figure;
  }

  function appendReply(reply, card) {
    const content = document.createElement("div");
    content.className = "markdown";
    content.innerHTML = renderMarkdown(reply || "");
    if (card) {
      content.appendChild(renderCard(card));
    }
    appendEntry("from-companion", companionName, content);
  }

  // A reply shown while it is written: `delta` events append text to one entry (re-rendered as
  // markdown each time), and the final `reply` event replaces it with the reply as stored.
  async function showStream(response) {
    const content = document.createElement("div");
    content.className = "markdown";
    let entry = null;
    let shown = "";
    let final = null;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    const handleFrame = function (frame) {
      let name = "message";
      let data = "";
      frame.split("\n").forEach(function (line) {
        if (line.startsWith("event:")) {
          name = line.slice(6).trim();
        } else if (line.startsWith("data:")) {
          data += line.slice(5).replace(/^ /, "");
        }
      });
      if (!data) {
        return;
      }
      const parsed = JSON.parse(data);
      if (name === "delta") {
        shown += parsed.text || "";
        if (!entry) {
          setBusy(false);
          entry = appendEntry("from-companion", companionName, content);
        }
        content.innerHTML = renderMarkdown(shown);
        scrollToEnd();
      } else if (name === "reply") {
        final = parsed;
      }
    };
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) {
        break;
      }
      buffered += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
      let end = buffered.indexOf("\n\n");
      while (end >= 0) {
        handleFrame(buffered.slice(0, end));
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf("\n\n");
      }
    }
    if (final && final.error) {
      appendError(final.error);
      return;
    }
    if (final && !final.duplicate && (final.reply || final.card)) {
      content.innerHTML = renderMarkdown(final.reply || "");
      if (final.card) {
        content.appendChild(renderCard(final.card));
      }
      if (!entry) {
        appendEntry("from-companion", companionName, content);
      }
    } else if (final && entry) {
      entry.remove();
    }
    scrollToEnd();
  }

  function appendError(text) {
    appendEntry("error", "Error", textNode(text));
  }

  function setBusy(isBusy) {
    busy = isBusy;
    send.disabled = isBusy;
    log.setAttribute("aria-busy", isBusy ? "true" : "false");
    const typing = document.getElementById("typing");
    if (isBusy && !typing) {
      const entry = appendEntry("typing", companionName, textNode("is typing…"));
      entry.id = "typing";
      entry.setAttribute("aria-hidden", "true");
    } else if (!isBusy && typing) {
      typing.remove();
    }
  }

  function newEventId() {
    return window.crypto && typeof window.crypto.randomUUID === "function" ? window.crypto.randomUUID() : undefined;
  }

  // Outside desktop mode the API wants `Authorization: Bearer <LOCAL_API_TOKEN>`. The token comes
  // from the address's fragment (`#token=…`, never sent to the server or logged) or is asked for once
  // the host answers 401; it is kept for this tab only.
  const TOKEN_KEY = "whisperengine.apiToken";

  function readToken() {
    const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash || "");
    if (match) {
      const token = decodeURIComponent(match[1]);
      try {
        window.sessionStorage.setItem(TOKEN_KEY, token);
      } catch (_) {
        // Storage may be off; the token then lives in this page only.
      }
      history.replaceState(null, "", window.location.pathname + window.location.search);
      return token;
    }
    try {
      return window.sessionStorage.getItem(TOKEN_KEY) || "";
    } catch (_) {
      return "";
    }
  }

  let apiToken = readToken();

  function askForToken() {
    const given = window.prompt("This host needs its local API token (LOCAL_API_TOKEN):") || "";
    apiToken = given.trim();
    try {
      window.sessionStorage.setItem(TOKEN_KEY, apiToken);
    } catch (_) {
      // Kept in this page only.
    }
    return apiToken !== "";
  }

  function apiHeaders(extra) {
    const headers = Object.assign({}, extra || {});
    if (apiToken) {
      headers.Authorization = "Bearer " + apiToken;
    }
    return headers;
  }

  async function sendText(text) {
    const user = currentUser();
    appendEntry("from-user", user, textNode(text));
    setBusy(true);
    try {
      const body = JSON.stringify({ text: text, user: user, event_id: newEventId() });
      const post = function () {
        return fetch("/api/chat", {
          method: "POST",
          headers: apiHeaders({
            "Content-Type": "application/json",
            Accept: "text/event-stream, application/json",
          }),
          body: body,
        });
      };
      let response = await post();
      if (response.status === 401 && askForToken()) {
        response = await post();
      }
      const type = response.headers.get("Content-Type") || "";
      if (response.ok && type.startsWith("text/event-stream")) {
        await showStream(response);
        return;
      }
      let data = null;
      try {
        data = await response.json();
      } catch (_) {
        data = null;
      }
      if (response.status === 429 && data && data.reply) {
        // Not taken in (sending too fast): the companion says so, and the text is kept to send again.
        appendReply(data.reply, null);
        if (!message.value) {
          message.value = text;
        }
        return;
      }
      if (!response.ok) {
        const reason = data && data.error ? data.error : "The host answered " + response.status + ".";
        appendError(reason);
        if (!message.value) {
          message.value = text;
        }
        return;
      }
      if (data && !data.duplicate && (data.reply || data.card)) {
        appendReply(data.reply, data.card);
      }
    } catch (error) {
      appendError("Could not reach the host: " + error.message);
      if (!message.value) {
        message.value = text;
      }
    } finally {
      setBusy(false);
      message.focus();
    }
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = message.value.trim();
    if (!text || busy) {
      return;
    }
    message.value = "";
    sendText(text);
  });

  message.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  userForm.addEventListener("submit", function (event) {
    event.preventDefault();
    message.focus();
  });

  userInput.addEventListener("change", function () {
    const name = userInput.value.trim();
    if (name === "") {
      userInput.value = defaultUser;
      storeUser(defaultUser);
    } else if (USER_PATTERN.test(name)) {
      userInput.value = name;
      storeUser(name);
    } else {
      appendError("Names are 1 to 64 characters without spaces, / or :. Keeping " + currentUser() + ".");
      userInput.focus();
    }
  });

  async function loadConfig() {
    try {
      let response = await fetch("/api/config", { headers: apiHeaders() });
      if (response.status === 401 && askForToken()) {
        response = await fetch("/api/config", { headers: apiHeaders() });
      }
      if (response.ok) {
        const config = await response.json();
        if (config.user) {
          defaultUser = config.user;
        }
      }
    } catch (_) {
      // Keep the built-in default; sending will report a host that cannot be reached.
    }
    userInput.value = storedUser() || defaultUser;
  }

  loadConfig();
  message.focus();
})();
