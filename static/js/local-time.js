// Times in the reader's own time zone, with the zone named. The server cannot know the zone, so
// it writes each moment in UTC, saying so, with the instant in `datetime` (templates/admin/macros.html,
// `when`); this module rewrites the text from that instant. Without JavaScript the UTC text stays,
// which is right, only less convenient.

const OPTIONS = {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  timeZoneName: "short",
};

/** The formatter for the page's language (its `lang`), in the browser's time zone. */
function formatter() {
  try {
    return new Intl.DateTimeFormat(document.documentElement.lang || undefined, OPTIONS);
  } catch {
    return new Intl.DateTimeFormat(undefined, OPTIONS);
  }
}

/** Rewrite every UTC `<time data-local-time>` under `root` in local time; the UTC text becomes its tooltip. */
export function showLocalTimes(root = document) {
  const format = formatter();
  const selector = "time[data-local-time]";
  const found = [...root.querySelectorAll(selector)];
  if (root.matches?.(selector)) found.push(root);
  for (const element of found) {
    const moment = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(moment.getTime())) continue;
    if (!element.title) element.title = element.textContent.trim();
    element.textContent = format.format(moment);
    element.removeAttribute("data-local-time");
  }
}

/** Local times on the page now, and in every fragment htmx swaps in later (the pagers, the lists). */
export function initLocalTimes() {
  showLocalTimes();
  document.addEventListener("htmx:load", (event) => showLocalTimes(event.detail.elt));
}
