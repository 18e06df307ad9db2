// Users: search by name (a substring) or phone (a prefix, starting with +), one tag, one
// page at a time (the API's cursor). The search lives in the hash (#/users?q=…&tag=…&after=…)
// so that Back and a shared link work.
import {api, enc} from "./api.js";
import {h, notice, timeEl} from "./dom.js";

export const PAGE = 25;

export function userRow(u) {
	return h("tr", {"data-user": u.id},
		h("td", {"data-label": "name"}, h("a", {href: "#/user/" + enc(u.id), text: u.name})),
		h("td", {"data-label": "phones", text: (u.phones || []).join(", ")}),
		h("td", {"data-label": "tags"}, (u.tags || []).map((t) => h("span.tag", {text: t}))),
		h("td", {"data-label": "mode", text: u.mode || "agent"}),
		h("td", {"data-label": "opted out", text: u.opted_out ? "yes" : ""}),
		h("td", {"data-label": "since"}, timeEl(u.created_at)));
}

export function userTable(list, id) {
	return h("table.list", {id},
		h("thead", {}, h("tr", {}, ["name", "phones", "tags", "mode", "opted out", "since"]
			.map((t) => h("th", {scope: "col", text: t})))),
		h("tbody", {}, list.map(userRow)));
}

export async function users(view, {params, go}) {
	document.title = "Users · smsrouter console";
	const q = params.get("q") || "";
	const tag = params.get("tag") || "";
	const after = params.get("after") || "";
	const back = params.getAll("back"); // the cursors of the pages before, for Previous
	const qInput = h("input", {id: "search-q", type: "search", name: "q", value: q,
		placeholder: "name, or phone prefix like +1555", autocomplete: "off"});
	const tagInput = h("input", {id: "search-tag", type: "text", name: "tag", value: tag,
		placeholder: "tag", autocomplete: "off"});
	const link = (extra) => {
		const p = new URLSearchParams();
		if (q) p.set("q", q);
		if (tag) p.set("tag", tag);
		for (const [k, v] of extra) p.append(k, v);
		return "#/users?" + p.toString();
	};
	view.append(h("h1", {text: "Users"}),
		h("form.search", {id: "search", role: "search", onsubmit: (e) => {
			e.preventDefault();
			const p = new URLSearchParams();
			if (qInput.value.trim()) p.set("q", qInput.value.trim());
			if (tagInput.value.trim()) p.set("tag", tagInput.value.trim());
			go("#/users?" + p.toString());
		}},
		h("label.sr", {for: "search-q", text: "Name or phone"}), qInput,
		h("label.sr", {for: "search-tag", text: "Tag"}), tagInput,
		h("button", {type: "submit", text: "Search"})));
	const page = await api("GET", "/users", {query: {limit: PAGE, q, tag, after}});
	if (!page.users.length) {
		view.append(notice(q || tag ? "No user matches." : "No users yet."));
	} else {
		view.append(userTable(page.users, "users"));
	}
	const pager = h("nav.pager", {"aria-label": "pages"});
	if (after) {
		const prev = back.slice(0, -1).map((c) => ["back", c]);
		const last = back[back.length - 1];
		pager.append(h("a.button", {href: link(last ? [...prev, ["after", last]] : prev),
			text: "← Previous", id: "prev"}));
	}
	if (page.next) {
		const trail = [...back.map((c) => ["back", c]), ...(after ? [["back", after]] : [])];
		pager.append(h("a.button", {href: link([...trail, ["after", page.next]]), text: "Next →",
			id: "next"}));
	}
	view.append(pager);
}
