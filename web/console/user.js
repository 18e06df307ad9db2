// One user: the conversation (both directions, statuses, media), scheduled messages
// (cancel), send a message, attributes and mode (edit), export, erase.
import {api, enc} from "./api.js";
import {h, notice, replace, safeUrl, sameOrigin, section, timeEl} from "./dom.js";

const HISTORY = 200;
const PENDING = new Set(["scheduled", "queued"]);
const MODES = ["agent", "paused", "human"];

// A media entry: a URL string, or {url, content_type, fetch_url}. A thumbnail only when
// the image is on this origin (smsrouter's own media link); anything else is a link, so
// that the page itself never loads from another origin.
function media(entry, i) {
	const url = typeof entry === "string" ? entry : entry && (entry.fetch_url || entry.url);
	const type = entry && typeof entry === "object" ? entry.content_type || "" : "";
	const href = safeUrl(url);
	if (!href) return h("span.media", {text: "media " + (i + 1) + " (no usable link)"});
	if (sameOrigin(href) && (!type || type.startsWith("image/"))) {
		return h("a.media", {href, target: "_blank", rel: "noopener noreferrer"},
			h("img.thumb", {src: href, alt: "media " + (i + 1), loading: "lazy"}));
	}
	return h("a.media", {href, target: "_blank", rel: "noopener noreferrer",
		text: "media " + (i + 1) + (type ? " (" + type + ")" : "") + " ↗"});
}

function bubble(m) {
	const when = m.direction === "outbound" && m.send_at && PENDING.has(m.status) ? m.send_at
		: m.created_at;
	return h("li.msg." + (m.direction === "inbound" ? "in" : "out"), {"data-id": m.id || "",
		"data-status": m.status},
	h("div.body", {text: m.body}),
	(m.media || []).length ? h("div.medias", {}, m.media.map(media)) : null,
	h("div.meta", {}, timeEl(when), " · ", h("span.status.s-" + String(m.status).replace(/\W/g, ""),
		{text: m.status}), m.kind ? " · " + m.kind : "", m.channel === "whatsapp" ? " · WhatsApp" : "",
	m.segments ? " · " + m.segments + " seg" : "", m.error_code ? " · error " + m.error_code : ""));
}

function scheduledList(u, list, refresh) {
	if (!list.length) return notice("Nothing scheduled.");
	return h("ul.scheduled", {id: "scheduled"}, list.map((m) => {
		const out = h("span.result");
		const cancel = h("button.danger", {type: "button", text: "Cancel", "data-cancel": m.id,
			onclick: async () => {
				cancel.disabled = true;
				try {
					await api("DELETE", "/users/" + enc(u.id) + "/messages/" + enc(m.id));
					await refresh();
				} catch (e) {
					replace(out, notice(e.code === "already_sent" ? "Already sent: too late to cancel."
						: e.message, "error"));
					cancel.disabled = false;
				}
			}});
		return h("li", {"data-id": m.id}, h("div.body", {text: m.body}),
			h("div.meta", {}, "due ", timeEl(m.not_before || m.send_at || m.created_at), " · to ",
				m.to, " · ", h("span.status", {text: m.status})), cancel, out);
	}));
}

function sendForm(u, refresh) {
	const body = h("textarea", {id: "send-body", name: "body", rows: 3, maxlength: 1600});
	const at = h("input", {id: "send-at", name: "send_at", type: "datetime-local"});
	const mediaIn = h("textarea", {id: "send-media", name: "media", rows: 2,
		placeholder: "https://… (one a line, optional)"});
	const to = h("select", {id: "send-to", name: "to"}, (u.phones || []).map((p) =>
		h("option", {value: p, text: p})));
	const out = h("div", {"aria-live": "polite"});
	return h("form.stack", {id: "send", onsubmit: async (e) => {
		e.preventDefault();
		const req = {body: body.value, to: to.value};
		const urls = mediaIn.value.split("\n").map((s) => s.trim()).filter(Boolean);
		if (urls.length) req.media = urls;
		if (at.value) req.send_at = new Date(at.value).toISOString().replace(/\.\d{3}Z$/, "Z");
		try {
			const m = await api("POST", "/users/" + enc(u.id) + "/messages", {body: req});
			replace(out, notice("Stored: " + m.status + (m.not_before ? ", goes out " +
				new Date(m.not_before).toLocaleString() : "") + ".", "ok"));
			body.value = "";
			at.value = "";
			mediaIn.value = "";
			await refresh();
		} catch (err) {
			replace(out, notice(err.message, "error"));
		}
	}},
	h("label", {for: "send-body", text: "Message"}), body,
	h("div.row", {}, h("div", {}, h("label", {for: "send-to", text: "To"}), to),
		h("div", {}, h("label", {for: "send-at", text: "Send at (your time; empty: now)"}), at)),
	h("label", {for: "send-media", text: "Media URLs"}), mediaIn,
	h("button", {type: "submit", text: "Send"}), out);
}

function attributesForm(u, refresh) {
	const f = {
		name: h("input", {id: "attr-name", value: u.name, required: true}),
		timezone: h("input", {id: "attr-timezone", value: u.timezone || "",
			placeholder: "e.g. Europe/Paris"}),
		locale: h("input", {id: "attr-locale", value: u.locale || "", placeholder: "e.g. en-US"}),
		tags: h("input", {id: "attr-tags", value: (u.tags || []).join(", "),
			placeholder: "comma-separated"}),
		agent: h("input", {id: "attr-agent", value: u.agent || "", placeholder: "default"}),
		mode: h("select", {id: "attr-mode"}, MODES.map((m) => h("option", {value: m, text: m,
			selected: m === (u.mode || "agent")}))),
	};
	const out = h("div", {"aria-live": "polite"});
	const field = (k, label) => h("div", {}, h("label", {for: "attr-" + k, text: label}), f[k]);
	return h("form.stack", {id: "attributes", onsubmit: async (e) => {
		e.preventDefault();
		const patch = {};
		const text = (k) => f[k].value.trim();
		if (text("name") !== u.name) patch.name = text("name");
		for (const k of ["timezone", "locale", "agent"]) {
			if (text(k) !== (u[k] || "")) patch[k] = text(k) || null;
		}
		const tags = text("tags") ? text("tags").split(",").map((s) => s.trim()).filter(Boolean) : [];
		if (JSON.stringify(tags) !== JSON.stringify(u.tags || [])) patch.tags = tags;
		if (f.mode.value !== (u.mode || "agent")) patch.mode = f.mode.value;
		if (!Object.keys(patch).length) {
			replace(out, notice("Nothing changed."));
			return;
		}
		try {
			await api("PATCH", "/users/" + enc(u.id), {body: patch});
			await refresh("Saved.");
		} catch (err) {
			replace(out, notice(err.message, "error"));
		}
	}},
	field("name", "Name"), field("timezone", "Time zone"), field("locale", "Locale"),
	field("tags", "Tags"), field("agent", "Agent"), field("mode", "Mode"),
	h("p.hint", {text: "Mode: agent (routed to the agent), paused (stored, not answered), " +
		"human (sent to the operator)."}),
	h("button", {type: "submit", text: "Save"}), out);
}

async function exportUser(u, out) {
	replace(out, notice("Exporting…"));
	try {
		const blob = await api("GET", "/users/" + enc(u.id) + "/export", {as: "blob"});
		const url = URL.createObjectURL(blob);
		const a = h("a", {href: url, download: "smsrouter-user-" + u.id + ".json"});
		document.body.append(a);
		a.click();
		a.remove();
		setTimeout(() => URL.revokeObjectURL(url), 60000);
		replace(out, notice("Exported " + blob.size + " bytes.", "ok"));
	} catch (e) {
		replace(out, notice(e.message, "error"));
	}
}

function eraseBox(u, go) {
	const word = h("input", {id: "erase-confirm", autocomplete: "off", spellcheck: "false"});
	const button = h("button.danger", {type: "submit", text: "Erase for good", disabled: true});
	const out = h("div", {"aria-live": "polite"});
	word.addEventListener("input", () => { button.disabled = word.value.trim() !== "erase"; });
	return h("details.erase", {id: "erase"}, h("summary", {text: "Erase this user…"}),
		h("form.stack", {onsubmit: async (e) => {
			e.preventDefault();
			if (word.value.trim() !== "erase") return;
			try {
				await api("DELETE", "/users/" + enc(u.id));
				go("#/users");
			} catch (err) {
				replace(out, notice(err.message, "error"));
			}
		}},
		h("p", {}, "This deletes the user, their numbers, every message, their notes and usage. ",
			"It cannot be undone; export first if you may need them. Type ",
			h("strong", {text: "erase"}), " to confirm."),
		h("label.sr", {for: "erase-confirm", text: "Type erase to confirm"}), word, button, out));
}

export async function user(view, {id, go}) {
	const path = "/users/" + enc(id);
	const [u, msgs] = await Promise.all([api("GET", path),
		api("GET", path + "/messages", {query: {limit: HISTORY}})]);
	document.title = u.name + " · smsrouter console";
	const thread = h("ol.thread", {id: "thread"});
	const scheduled = h("div");
	const flash = h("div", {"aria-live": "polite"});
	const attrs = h("div");

	async function refresh(message) {
		const [nu, list] = await Promise.all([api("GET", path),
			api("GET", path + "/messages", {query: {limit: HISTORY}})]);
		draw(nu, list.messages, message);
	}
	function draw(cur, list, message) {
		// Oldest first by time; messages of the same second keep the API's order.
		const oldest = list.slice().reverse()
			.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
		replace(thread, oldest.length ? oldest.map(bubble) : h("li.empty", {text: "No messages yet."}));
		replace(scheduled, scheduledList(cur, oldest.filter((m) => m.direction === "outbound" && m.kind &&
			PENDING.has(m.status)), refresh));
		replace(attrs, attributesForm(cur, refresh));
		replace(head, header(cur));
		replace(flash, message ? notice(message, "ok") : null);
		main.dataset.drawn = String(Date.now());
	}
	const main = view;
	const exportOut = h("span");
	const head = h("div");
	view.append(head,
		h("div.actions", {}, h("button", {type: "button", id: "export", text: "Export JSON",
			onclick: () => exportUser(u, exportOut)}), exportOut),
		flash,
		h("div.columns", {},
			section("Conversation", h("p.hint", {text: "The last " + HISTORY + " messages, " +
				"oldest first: the user's on the left, ours on the right."}), thread),
			h("div", {},
				section("Scheduled", scheduled),
				section("Send a message", sendForm(u, refresh)),
				section("Attributes and mode", attrs),
				eraseBox(u, go))));
	draw(u, msgs.messages);
	thread.scrollTop = thread.scrollHeight; // the newest at hand, the page itself not scrolled
}

function header(u) {
	return h("header.user", {}, h("h1", {id: "user-name", text: u.name}),
		h("p.meta", {}, (u.phones || []).join(", "), " · mode ", h("strong", {id: "user-mode",
			text: u.mode || "agent"}), u.opted_out ? h("span.badge.warn", {text: "opted out"}) : null,
		(u.tags || []).map((t) => h("span.tag", {text: t})), " · since ", timeEl(u.created_at)));
}

