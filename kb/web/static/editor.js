// The query editor: runs the text on /sparql and shows the answer as a table (SELECT), a
// yes/no (ASK) or Turtle (CONSTRUCT, DESCRIBE). No libraries, nothing from the internet.
"use strict";
(function () {
  const named = JSON.parse(document.getElementById("named").textContent);
  const area = document.getElementById("query");
  const status = document.getElementById("status");
  const results = document.getElementById("results");
  const csv = document.getElementById("csv");
  const json = document.getElementById("json");
  const note = document.getElementById("tab-note");
  let mine = area.value;
  let current = "";

  function link(value) {
    const a = document.createElement("a");
    const base = "https://w3id.org/citykb/id/";
    a.href = value.startsWith(base) ? "/id/" + value.slice(base.length) : value;
    a.textContent = value.startsWith(base) ? value.slice(base.length) : value;
    return a;
  }

  function table(data) {
    const vars = data.head.vars;
    const t = document.createElement("table");
    t.className = "results";
    const head = t.createTHead().insertRow();
    vars.forEach(function (v) { const th = document.createElement("th"); th.textContent = v; head.appendChild(th); });
    const body = t.createTBody();
    data.results.bindings.forEach(function (b) {
      const row = body.insertRow();
      vars.forEach(function (v) {
        const cell = row.insertCell();
        const term = b[v];
        if (!term) return;
        if (term.type === "uri") cell.appendChild(link(term.value));
        else cell.textContent = term.value;
      });
    });
    return t;
  }

  function downloads(query) {
    const q = encodeURIComponent(query);
    csv.href = "/sparql?format=csv&query=" + q;
    json.href = "/sparql?format=json&query=" + q;
    csv.hidden = json.hidden = false;
  }

  async function run() {
    const query = area.value;
    status.textContent = "running…";
    results.replaceChildren();
    csv.hidden = json.hidden = true;
    const started = performance.now();
    let response;
    try {
      response = await fetch("/sparql", {
        method: "POST",
        headers: {"Content-Type": "application/x-www-form-urlencoded",
                  "Accept": "application/sparql-results+json, text/turtle;q=0.9"},
        body: new URLSearchParams({query: query}),
      });
    } catch (e) {
      status.textContent = "the server could not be reached";
      return;
    }
    const ms = Math.round(performance.now() - started);
    const type = response.headers.get("Content-Type") || "";
    if (!response.ok) {
      const p = document.createElement("p");
      p.className = "error";
      p.id = "query-error";
      p.textContent = await response.text();
      results.appendChild(p);
      status.textContent = "HTTP " + response.status + " in " + ms + " ms";
      return;
    }
    const truncated = response.headers.get("X-Citykb-Truncated") === "true";
    if (type.startsWith("application/sparql-results+json")) {
      const data = await response.json();
      if ("boolean" in data) {
        const p = document.createElement("p");
        p.id = "ask";
        p.textContent = data.boolean ? "yes (true)" : "no (false)";
        results.appendChild(p);
        status.textContent = "answered in " + ms + " ms";
        return;
      }
      const n = data.results.bindings.length;
      status.textContent = n + " row" + (n === 1 ? "" : "s") + " in " + ms + " ms" +
        (truncated ? " — cut at the row limit of " + data.citykb.max_rows + "; the answer has more" : "");
      if (truncated) status.className = "warn";
      results.appendChild(table(data));
      downloads(query);
    } else {
      const pre = document.createElement("pre");
      pre.textContent = await response.text();
      results.appendChild(pre);
      status.textContent = (response.headers.get("X-Citykb-Rows") || "?") + " triples in " + ms + " ms" +
        (truncated ? " — cut at the limit" : "");
    }
  }

  document.getElementById("run").addEventListener("click", run);
  area.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); run(); }
  });
  document.querySelectorAll("#tabs .tab").forEach(function (tab) {
    tab.addEventListener("click", function () {
      if (current === "") mine = area.value;
      current = tab.dataset.name;
      document.querySelectorAll("#tabs .tab").forEach(function (t) { t.classList.toggle("active", t === tab); });
      area.value = current === "" ? mine : named[current];
      note.replaceChildren();
      if (current !== "") {
        note.append("Its parameters are variables here (unbound, so it answers for every value); ");
        const a = document.createElement("a");
        a.href = "/queries/" + current;
        a.textContent = "use the form to give them";
        note.append(a, ".");
      }
    });
  });
}());
