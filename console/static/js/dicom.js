// DICOM configuration forms: create (POST) or, after "Edit", update (PUT) an AE title, source or destination.
import { say, send, refreshAll } from "./common.js";

function body(form) {
  const data = Object.fromEntries(new FormData(form).entries());
  if (data.port !== undefined) data.port = Number(data.port);
  if (data.processorSettings !== undefined) {
    const settings = {};
    for (const line of data.processorSettings.split("\n")) {
      const [key, ...rest] = line.split("=");
      if (key.trim()) settings[key.trim()] = rest.join("=").trim();
    }
    data.processorSettings = settings;
    if (!data.name) delete data.name;
  }
  return data;
}

for (const form of document.querySelectorAll("form[data-entity-form]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const kind = form.dataset.entityForm;
    const editing = form.dataset.editing;
    const url = editing ? `/api/dicom/${kind}/${encodeURIComponent(editing)}` : `/api/dicom/${kind}`;
    try {
      await send(url, editing ? "PUT" : "POST", body(form));
      say(`Saved ${kind.replace(/s$/, "")} ${editing || form.elements[0].value}`);
      form.reset();
    } catch (error) {
      say(`Not saved: ${error.message}`, true);
    }
    await refreshAll();
  });
  form.addEventListener("reset", () => { delete form.dataset.editing; });
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-edit]");
  if (!button) return;
  const form = document.querySelector(`form[data-entity-form="${button.dataset.edit}"]`);
  const entity = JSON.parse(button.dataset.entity);
  form.reset();
  form.dataset.editing = button.dataset.key;
  for (const input of form.elements) {
    if (!input.name || !(input.name in entity)) continue;
    const value = entity[input.name];
    input.value = typeof value === "object" && value !== null
      ? Object.entries(value).map(([k, v]) => `${k}=${v}`).join("\n") : value;
  }
  form.elements[0].focus();
  say(`Editing ${button.dataset.key}: change the fields and save`);
});
