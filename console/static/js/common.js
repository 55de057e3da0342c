// What every page shares: fetch with the session's CSRF token, live sections, action buttons, log tails.

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const status = document.getElementById("live-status");
const LIVE_MS = 3000;

export function say(text, failed = false) {
  if (!status) return;
  status.textContent = text;
  status.classList.toggle("error", failed);
}

export async function send(url, method = "POST", body = undefined) {
  const headers = { "X-CSRF-Token": csrf };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin",
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!response.ok) {
    const detail = (data && (data.detail || data.title)) || `HTTP ${response.status}`;
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return data;
}

// A live section is re-rendered by the server every few seconds; keyboard focus survives the swap.
async function refresh(section) {
  if (document.hidden) return;
  const response = await fetch(section.dataset.live, { headers: { Accept: "text/html-fragment" } });
  if (!response.ok) return;
  const html = await response.text();
  const focused = document.activeElement;
  const key = section.contains(focused) ? focusKey(focused) : null;
  section.innerHTML = html;
  if (key) section.querySelector(key)?.focus();
}

function focusKey(element) {
  if (element.id) return `#${CSS.escape(element.id)}`;
  for (const name of ["data-action", "href"]) {
    const value = element.getAttribute(name);
    if (value) return `[${name}="${CSS.escape(value)}"]`;
  }
  return null;
}

export function refreshAll() {
  return Promise.all([...document.querySelectorAll("[data-live]")].map(refresh));
}

setInterval(refreshAll, LIVE_MS);

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  button.disabled = true;
  try {
    const answer = await send(button.dataset.action, button.dataset.method || "POST");
    let text = button.dataset.done || "Done";
    if (answer && typeof answer === "object" && "success" in answer) {
      text = `${text}: ${answer.success ? "success" : "failed"}${answer.message ? ` (${answer.message})` : ""}`;
    }
    say(text, answer && answer.success === false);
  } catch (error) {
    say(`Failed: ${error.message}`, true);
  } finally {
    button.disabled = false;
  }
  await refreshAll();
});

document.getElementById("logout")?.addEventListener("click", async () => {
  await send("/logout");
  window.location.assign("/login");
});

// Logs: loaded once, and again every few seconds while the job runs.
async function tail(pre) {
  const response = await fetch(pre.dataset.log);
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.textContent = await response.text();
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

for (const pre of document.querySelectorAll("pre[data-log]")) {
  tail(pre);
  if (pre.dataset.follow === "yes") {
    const timer = setInterval(async () => {
      await tail(pre);
      if (!document.querySelector('[data-action$="/cancel"]')) clearInterval(timer);  // the job stopped
    }, LIVE_MS);
  }
}
