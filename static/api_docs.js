// "Try it" on the API reference page: each <form class="api-try" data-method data-path>
// sends its call with the key typed in #api-key and shows the answer below it.
// The key only lives in this page's memory; cookies are never sent (credentials: omit),
// so a call is exactly what an integration with that key would make.
(() => {
  const keyField = document.getElementById("api-key");
  const forms = document.querySelectorAll("form.api-try");
  if (!keyField || !forms.length) return;
  const texts = document.getElementById("try").dataset;

  const show = (out, text) => { out.textContent = text; };

  const pretty = (body) => {
    try { return JSON.stringify(JSON.parse(body), null, 2); } catch (_) { return body; }
  };

  const send = async (form) => {
    const out = form.querySelector(".api-result");
    const key = keyField.value.trim();
    if (!key) { show(out, texts.needKey); keyField.focus(); return; }
    let path = form.dataset.path;
    const id = form.elements.id;
    if (id) {
      if (!/^[0-9]+$/.test(id.value.trim())) { show(out, texts.needId); id.focus(); return; }
      path = path.replace("{id}", id.value.trim());
    }
    const query = form.elements.query ? form.elements.query.value.trim().replace(/^\?/, "") : "";
    if (query) path += "?" + query;
    const options = { method: form.dataset.method, headers: { Authorization: "Bearer " + key },
                      credentials: "omit" };
    const body = form.elements.body;
    if (body && body.value.trim()) {
      options.headers["Content-Type"] = "application/json";
      options.body = body.value;
    }
    show(out, texts.sending);
    try {
      const resp = await fetch(path, options);
      const text = await resp.text();
      show(out, `${resp.status} ${resp.statusText}\n\n${pretty(text)}`);
    } catch (err) {
      show(out, String(err));
    }
  };

  forms.forEach((form) => {
    form.hidden = false;
    form.addEventListener("submit", (event) => { event.preventDefault(); send(form); });
  });
})();
