// The admin API, with the bearer token the operator signed in with. The token lives in
// this tab's sessionStorage (gone when the tab closes), is sent only in the Authorization
// header to this origin, and never in a cookie or a URL.
const BASE = "/sms-router/admin";
const KEY = "smsrouter.adminToken";

export class ApiError extends Error {
	constructor(status, code, message) {
		super(message || code || "HTTP " + status);
		this.status = status;
		this.code = code || "";
	}
}

export function token() {
	return sessionStorage.getItem(KEY);
}

export function setToken(t) {
	if (t) sessionStorage.setItem(KEY, t);
	else sessionStorage.removeItem(KEY);
}

// Called on any 401: the app goes back to the sign-in page with a message.
let onUnauthorized = () => {};
export function whenUnauthorized(f) {
	onUnauthorized = f;
}

async function request(method, url, body, as, tok) {
	const headers = {Authorization: "Bearer " + (tok ?? token() ?? "")};
	const init = {method, headers, cache: "no-store", credentials: "omit", redirect: "error"};
	if (body !== undefined) {
		headers["Content-Type"] = "application/json";
		init.body = JSON.stringify(body);
	}
	let r;
	try {
		r = await fetch(url, init);
	} catch (e) {
		throw new ApiError(0, "network", "The server did not answer (" + e.message + ").");
	}
	if (r.status === 401) {
		if (tok === undefined) onUnauthorized();
		throw new ApiError(401, "unauthorized", "The server refused the admin token.");
	}
	if (!r.ok) {
		let j = null;
		try {
			j = await r.json();
		} catch {
			// not JSON: the status says it
		}
		throw new ApiError(r.status, j && j.error, (j && j.message) || "HTTP " + r.status);
	}
	if (r.status === 204) return null;
	if (as === "blob") return r.blob();
	if (as === "text") return r.text();
	return r.json();
}

// path is below /sms-router/admin; query an object of parameters (undefined/"" left out).
export function api(method, path, {query, body, as, token: tok} = {}) {
	let url = BASE + path;
	if (query) {
		const q = Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== "")
			.map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");
		if (q) url += "?" + q;
	}
	return request(method, url, body, as, tok);
}

export function enc(s) {
	return encodeURIComponent(s);
}

// /metrics (open, Prometheus text): the gauges and counters the overview shows.
export async function metrics() {
	const r = await fetch("/metrics", {cache: "no-store", credentials: "omit", redirect: "error"});
	if (!r.ok) throw new ApiError(r.status, "", "/metrics answered " + r.status);
	const text = await r.text();
	const out = {};
	for (const line of text.split("\n")) {
		const m = /^([a-z_]+)(\{[^}]*\})?\s+([-+0-9.eE]+|NaN)$/.exec(line);
		if (m && !m[2]) out[m[1]] = Number(m[3]);
	}
	return out;
}
