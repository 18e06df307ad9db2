// Opt-outs: the users with an opted-out number. The admin API has no opt-out list, so
// this walks the user list (500 a page, oldest first) a bounded number of pages per
// click and keeps those whose opted_out is true; "Search further" goes on from there.
import {api} from "./api.js";
import {h, notice} from "./dom.js";
import {userRow} from "./users.js";

const PAGES_PER_STEP = 10;

export async function optouts(view) {
	document.title = "Opt-outs · smsrouter console";
	const body = h("tbody");
	const table = h("table.list", {id: "opt-outs"},
		h("thead", {}, h("tr", {}, ["name", "phones", "tags", "mode", "opted out", "since"]
			.map((t) => h("th", {scope: "col", text: t})))), body);
	const status = h("p.hint", {id: "opt-outs-status"});
	const more = h("button", {type: "button", id: "opt-outs-more", text: "Search further",
		hidden: true});
	view.append(h("h1", {text: "Opt-outs"}),
		h("p.hint", {text: "Users with a number that texted STOP (or that Twilio reported " +
			"as opted out). Nothing is sent to that number on that channel until it texts START."}),
		table, status, more);
	let after = "";
	let seen = 0;
	let found = 0;
	async function step() {
		more.disabled = true;
		for (let i = 0; i < PAGES_PER_STEP; i++) {
			const page = await api("GET", "/users", {query: {limit: 500, after}});
			seen += page.users.length;
			for (const u of page.users.filter((x) => x.opted_out)) {
				body.append(userRow(u));
				found++;
			}
			after = page.next || "";
			if (!after) break;
		}
		status.textContent = found + " opted out among " + seen + " users" +
			(after ? " read so far." : " (all of them).");
		more.hidden = !after;
		more.disabled = false;
	}
	more.addEventListener("click", () => step().catch((e) => view.append(notice(e.message, "error"))));
	await step();
	if (!found && !after) view.append(notice("Nobody has opted out."));
}
