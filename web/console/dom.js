// DOM helpers. Every string is inserted as text (createTextNode / textContent), never as
// HTML: a name, a message body or a Twilio status can never become markup or script.

// h("tag.class1.class2", {attributes and handlers}, ...children)
// props: "text" sets textContent; "on<event>" adds a listener; "hidden", "disabled",
// "checked", "value" set the property; anything else setAttribute (never "on…" from data).
export function h(spec, props, ...children) {
	const [tag, ...classes] = spec.split(".");
	const el = document.createElement(tag || "div");
	if (classes.length) el.className = classes.join(" ");
	for (const [k, v] of Object.entries(props || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k === "text") el.textContent = String(v);
		else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
		else if (k === "value" || k === "checked" || k === "disabled" || k === "hidden") el[k] = v;
		else if (k.startsWith("on")) throw new Error("no inline handler: " + k);
		else el.setAttribute(k, v === true ? "" : String(v));
	}
	append(el, children);
	return el;
}

export function append(el, children) {
	for (const c of children.flat(Infinity)) {
		if (c === undefined || c === null || c === false) continue;
		el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return el;
}

// Replaces el's children.
export function replace(el, ...children) {
	el.replaceChildren();
	return append(el, children);
}

// An http(s) URL as a string, or null for anything else (javascript:, data:, junk):
// only such URLs become links.
export function safeUrl(u) {
	try {
		const url = new URL(String(u), location.href);
		return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
	} catch {
		return null;
	}
}

export function sameOrigin(u) {
	try {
		return new URL(u, location.href).origin === location.origin;
	} catch {
		return false;
	}
}

// RFC 3339 → "Dec 6, 14:05" in the browser's time zone (the title keeps the exact time).
export function when(s) {
	if (!s) return "";
	const d = new Date(s);
	if (Number.isNaN(d.getTime())) return String(s);
	return d.toLocaleString(undefined, {month: "short", day: "numeric", hour: "2-digit",
		minute: "2-digit"});
}

export function timeEl(s) {
	return h("time", {datetime: s || "", title: s || "", text: when(s)});
}

// A message line for errors and results; kind "error" or "ok".
export function notice(text, kind) {
	return h("p.notice" + (kind ? "." + kind : ""), {role: kind === "error" ? "alert" : "status",
		text});
}

export function section(title, ...children) {
	return h("section.card", {}, h("h2", {text: title}), ...children);
}
