// The console: sign-in, then one page per location hash (#/overview, #/users?q=…,
// #/user/ID, #/opt-outs). Plain modules, no framework; every view builds its DOM with
// dom.js (text only).
import {ApiError, api, setToken, token, whenUnauthorized} from "./api.js";
import {h, notice, replace} from "./dom.js";
import {overview} from "./overview.js";
import {optouts} from "./optouts.js";
import {user} from "./user.js";
import {users} from "./users.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
let signInMessage = "";

function signIn() {
	nav.hidden = true;
	document.title = "Sign in · smsrouter console";
	const input = h("input", {id: "token", type: "password", name: "token", required: true,
		autocomplete: "current-password", spellcheck: "false", autocapitalize: "off",
		"aria-describedby": "token-help"});
	const status = h("div", {id: "sign-in-status", "aria-live": "polite"});
	if (signInMessage) status.append(notice(signInMessage, "error"));
	signInMessage = "";
	const form = h("form.card.sign-in", {id: "sign-in", onsubmit: async (e) => {
		e.preventDefault();
		const t = input.value.trim();
		replace(status, notice("Checking…"));
		try {
			// Any admin call checks the token; one user is the cheapest.
			await api("GET", "/users", {query: {limit: 1}, token: t});
		} catch (err) {
			const text = err instanceof ApiError && err.status === 401
				? "Wrong token: the server refused it. Use the value of SMSROUTER_ADMIN_TOKEN " +
				  "(with serve --dev, the file the server printed at start)."
				: "Cannot sign in: " + err.message;
			replace(status, notice(text, "error"));
			input.select();
			return;
		}
		setToken(t);
		if (!location.hash || location.hash === "#/sign-in") location.hash = "#/overview";
		else route();
	}},
	h("h1", {text: "Sign in"}),
	h("p", {id: "token-help", text: "Paste the admin token (SMSROUTER_ADMIN_TOKEN). It is " +
		"kept in this tab only and sent to this server as a bearer token."}),
	h("label", {for: "token", text: "Admin token"}), input,
	h("button", {type: "submit", text: "Sign in"}), status);
	replace(main, form);
	input.focus();
	main.dataset.ready = "sign-in";
}

const pages = {overview, users, user, "opt-outs": optouts};

async function route() {
	delete main.dataset.ready;
	if (!token()) {
		signIn();
		return;
	}
	const hash = location.hash.replace(/^#\/?/, "");
	const [path, qs] = hash.split("?");
	const [page, ...rest] = path.split("/");
	const name = pages[page] ? page : "overview";
	nav.hidden = false;
	for (const a of nav.querySelectorAll("a")) {
		const current = a.dataset.page === name || (name === "user" && a.dataset.page === "users");
		if (current) a.setAttribute("aria-current", "page");
		else a.removeAttribute("aria-current");
	}
	const view = h("div.view", {id: "view-" + name});
	replace(main, view);
	try {
		await pages[name](view, {params: new URLSearchParams(qs || ""),
			id: rest.map(decodeURIComponent).join("/"), go: (to) => { location.hash = to; }});
	} catch (err) {
		if (err instanceof ApiError && err.status === 401) return;
		view.append(notice("Error: " + err.message, "error"));
	}
	main.dataset.ready = name; // the browser tests wait for this
}

whenUnauthorized(() => {
	setToken(null);
	signInMessage = "The server refused the admin token; sign in again.";
	signIn();
});

document.getElementById("sign-out").addEventListener("click", () => {
	setToken(null);
	location.hash = "";
	signIn();
});
window.addEventListener("hashchange", route);
route();
