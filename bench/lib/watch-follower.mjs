// A list-then-watch of one collection over plain HTTP (`kubectl proxy`), for as long as the
// caller wants: the apiserver ends every watch after a while (its request timeout, or ours:
// timeoutSeconds), so when the stream ends it watches again from the last resourceVersion
// seen (bookmarks keep that fresh), and when that version is too old (410 Gone, as an HTTP
// status or as an ERROR event) it lists again. Level-based: `onObject(object)` for every
// object seen, listed or watched, `onDeleted(object)` for one gone, including those that went
// while no watch was open (a re-list without them), so the caller's state stays whole.

/**
 * Follows `url` (a collection, e.g. http://127.0.0.1:8001/apis/g/v1/things) until `signal`
 * aborts. Resolves when aborted; `onError(err)` hears of failed attempts, which are retried.
 */
export async function followCollection(url, signal, { onObject, onDeleted, onError = () => {}, timeoutSeconds = 300, onWatchStart = () => {} }) {
  const known = new Map(); // name -> last object seen
  let rv = null;
  while (!signal.aborted) {
    try {
      if (rv === null) rv = await relist(url, signal, known, onObject, onDeleted);
      onWatchStart(rv);
      const sep = url.includes("?") ? "&" : "?";
      const res = await fetch(`${url}${sep}watch=true&allowWatchBookmarks=true&timeoutSeconds=${timeoutSeconds}&resourceVersion=${rv}`, { signal });
      if (res.status === 410) {
        await res.body?.cancel();
        rv = null;
        continue;
      }
      if (!res.ok) throw new Error(`watch: HTTP ${res.status} ${await res.text()}`);
      for await (const event of jsonLines(res.body)) {
        if (event.type === "ERROR") {
          // 410 Gone (resourceVersion too old) or another failure: list again either way.
          if (event.object?.code !== 410) onError(new Error(`watch ERROR event: ${event.object?.message ?? JSON.stringify(event.object)}`));
          rv = null;
          break;
        }
        rv = event.object?.metadata?.resourceVersion ?? rv;
        if (event.type === "BOOKMARK") continue;
        const name = event.object?.metadata?.name;
        if (!name) continue;
        if (event.type === "DELETED") {
          known.delete(name);
          onDeleted(event.object);
        } else {
          known.set(name, event.object);
          onObject(event.object);
        }
      }
      // The stream ended (timeout, or the server closed it): watch again from rv.
    } catch (err) {
      if (signal.aborted) return;
      onError(err);
      rv = null;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

async function relist(url, signal, known, onObject, onDeleted) {
  const res = await fetch(url, { signal });
  if (!res.ok) throw new Error(`list: HTTP ${res.status} ${await res.text()}`);
  const list = await res.json();
  const names = new Set(list.items.map((o) => o.metadata.name));
  for (const [name, old] of known) {
    if (names.has(name)) continue;
    known.delete(name);
    onDeleted(old);
  }
  for (const item of list.items) {
    known.set(item.metadata.name, item);
    onObject(item);
  }
  return list.metadata.resourceVersion;
}

/** One JSON value per line of a byte stream. */
async function* jsonLines(body) {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim()) yield JSON.parse(line);
    }
  }
}
