// Overview: traffic per hour by outcome (7 days), segments and cost per day (30 days),
// the outbox and its dead letters. Charts are Chart.js (Debian's libjs-chart.js, served
// by smsrouter itself as chart.js; it sets window.Chart).
import {ApiError, api, metrics} from "./api.js";
import {h, notice, section} from "./dom.js";

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
// A fixed colour per outcome the router counts; others get the grey.
const COLOURS = {
	routed: "#2f7d32", unrouted: "#8d6e63", rate_limited: "#f9a825", opted_out: "#c62828",
	opted_in: "#00897b", help: "#5e35b1", blocked: "#6d4c41", duplicate: "#90a4ae",
	over_budget: "#ef6c00", paused: "#546e7a", human: "#1565c0",
};

// RFC 3339 of ms, whole seconds, UTC (the stats endpoint's form).
export function rfc3339(ms) {
	return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// The buckets from since to now, step apart, as RFC 3339 labels; each series entry is
// put at its bucket (by time, whatever the spelling of its t), the rest are zero.
function axis(since, step, now) {
	const labels = [];
	for (let t = since; t <= now; t += step) labels.push(rfc3339(t));
	return labels;
}

function byBucket(series, labels) {
	const index = new Map(labels.map((l, i) => [Date.parse(l), i]));
	const out = new Array(labels.length).fill(null);
	for (const e of series || []) {
		const i = index.get(Date.parse(e.t));
		if (i !== undefined) out[i] = e;
	}
	return out;
}

function tick(labels, daily) {
	return function (value) {
		const d = new Date(labels[value]);
		if (daily) return d.toLocaleDateString(undefined, {month: "short", day: "numeric"});
		// One label a day, at its midnight (the browser's time zone); no other tick.
		return d.getHours() === 0 ? d.toLocaleDateString(undefined, {month: "short", day: "numeric"})
			: null;
	};
}

function hourlyChart(canvas, stats, since, now) {
	const labels = axis(since, HOUR, now);
	const rows = byBucket(stats.series, labels);
	// The outcomes seen in the window (the endpoint names all of them, mostly zero).
	const outcomes = [];
	for (const e of stats.series || []) {
		for (const [k, n] of Object.entries(e.outcomes || {})) {
			if (n && !outcomes.includes(k)) outcomes.push(k);
		}
	}
	if (!outcomes.length) outcomes.push("routed");
	const datasets = outcomes.map((k) => ({
		label: k, data: rows.map((e) => (e && e.outcomes && e.outcomes[k]) || 0),
		backgroundColor: COLOURS[k] || "#9e9e9e", stack: "in"}));
	datasets.push({label: "outbound", data: rows.map((e) => (e && e.outbound) || 0),
		backgroundColor: "#1e88e5", stack: "out", hidden: true});
	return new window.Chart(canvas, {
		type: "bar",
		data: {labels, datasets},
		options: {
			animation: false, responsive: true, maintainAspectRatio: false,
			interaction: {mode: "index", intersect: false},
			scales: {
				x: {stacked: true, ticks: {callback: tick(labels, false), maxRotation: 0,
					autoSkip: false}},
				y: {stacked: true, beginAtZero: true, ticks: {precision: 0}},
			},
			plugins: {legend: {position: "bottom"}, tooltip: {callbacks: {
				title: (items) => new Date(labels[items[0].dataIndex]).toLocaleString()}}},
		},
	});
}

function dailyChart(canvas, stats, since, now) {
	const labels = axis(since, DAY, now);
	const rows = byBucket(stats.series, labels);
	return new window.Chart(canvas, {
		type: "bar",
		data: {labels, datasets: [
			{label: "segments", data: rows.map((e) => (e && e.segments) || 0),
				backgroundColor: "#3949ab", yAxisID: "y"},
			{label: "cost (USD)", type: "line", data: rows.map((e) => Number((e && e.cost) || 0)),
				borderColor: "#e65100", backgroundColor: "#e65100", yAxisID: "cost"},
		]},
		options: {
			animation: false, responsive: true, maintainAspectRatio: false,
			interaction: {mode: "index", intersect: false},
			scales: {
				x: {ticks: {callback: tick(labels, true), maxRotation: 0, autoSkipPadding: 8}},
				y: {beginAtZero: true, ticks: {precision: 0}, title: {display: true, text: "segments"}},
				cost: {position: "right", beginAtZero: true, grid: {drawOnChartArea: false},
					title: {display: true, text: "USD"}},
			},
			plugins: {legend: {position: "bottom"}},
		},
	});
}

function tile(label, value, id, hint) {
	return h("div.tile", {id}, h("span.value", {text: value}), h("span.label", {text: label}),
		hint ? h("span.hint", {text: hint}) : null);
}

function sum(series, f) {
	return (series || []).reduce((a, e) => a + f(e), 0);
}

export async function overview(view) {
	document.title = "Overview · smsrouter console";
	const now = Date.now();
	const hourSince = Math.floor(now / HOUR) * HOUR - 167 * HOUR;
	const daySince = Math.floor(now / DAY) * DAY - 29 * DAY;
	view.append(h("h1", {text: "Overview"}));
	const tiles = h("div.tiles", {id: "tiles"});
	view.append(tiles);

	const hourCanvas = h("canvas", {id: "chart-hourly", role: "img",
		"aria-label": "Messages per hour by outcome, last 7 days"});
	const dayCanvas = h("canvas", {id: "chart-daily", role: "img",
		"aria-label": "Segments and cost per day, last 30 days"});
	const hourBox = section("Traffic per hour by outcome · last 7 days",
		h("p.hint", {text: "Inbound messages by what the router did with them; click " +
			"“outbound” in the legend to add the messages sent."}),
		h("div.chart", {}, hourCanvas));
	const dayBox = section("Segments and cost per day · last 30 days", h("div.chart", {}, dayCanvas));
	const outbox = section("Outbox and dead letters", h("div", {id: "outbox"}, notice("Loading…")));
	view.append(hourBox, dayBox, outbox);

	const [hourly, daily, m] = await Promise.allSettled([
		api("GET", "/stats", {query: {since: rfc3339(hourSince), bucket: "hour"}}),
		api("GET", "/stats", {query: {since: rfc3339(daySince), bucket: "day"}}),
		metrics(),
	]);
	for (const r of [hourly, daily]) {
		if (r.status === "rejected" && r.reason instanceof ApiError && r.reason.status === 401) {
			throw r.reason;
		}
	}
	if (hourly.status === "fulfilled") {
		hourlyChart(hourCanvas, hourly.value, hourSince, now);
		const s = hourly.value.series;
		tiles.append(tile("inbound, 7 days", String(sum(s, (e) => e.inbound || 0)), "tile-inbound"),
			tile("outbound, 7 days", String(sum(s, (e) => e.outbound || 0)), "tile-outbound"));
	} else {
		hourBox.append(notice("No hourly stats: " + hourly.reason.message, "error"));
	}
	if (daily.status === "fulfilled") {
		dailyChart(dayCanvas, daily.value, daySince, now);
		const last7 = (daily.value.series || []).filter((e) => Date.parse(e.t) > now - 7 * DAY);
		tiles.append(tile("segments, 7 days", String(sum(last7, (e) => e.segments || 0)),
			"tile-segments"),
		tile("cost, 7 days", "$" + sum(last7, (e) => Number(e.cost || 0)).toFixed(4), "tile-cost"));
		const table = h("table.compact", {id: "daily-table"},
			h("thead", {}, h("tr", {}, h("th", {text: "day (UTC)"}), h("th", {text: "in"}),
				h("th", {text: "out"}), h("th", {text: "segments"}), h("th", {text: "cost"}))),
			h("tbody", {}, (daily.value.series || []).slice().reverse().slice(0, 7).map((e) =>
				h("tr", {}, h("td", {text: String(e.t).slice(0, 10)}), h("td", {text: e.inbound}),
					h("td", {text: e.outbound}), h("td", {text: e.segments}),
					h("td", {text: e.cost})))));
		dayBox.append(h("details", {}, h("summary", {text: "The last 7 days as a table"}), table));
	} else {
		dayBox.append(notice("No daily stats: " + daily.reason.message, "error"));
	}
	const box = outbox.querySelector("#outbox");
	if (m.status === "fulfilled") {
		const g = m.value;
		const n = (k) => (g[k] === undefined || g[k] < 0 ? "?" : String(g[k]));
		box.replaceChildren(h("div.tiles", {},
			tile("outbox depth", n("smsrouter_outbox_depth"), "tile-outbox",
				"replies waiting for the agent or Twilio"),
			tile("scheduled", n("smsrouter_scheduled_depth"), "tile-scheduled",
				"proactive messages not yet due"),
			tile("dead letters", n("smsrouter_outbox_dead_total"), "tile-dead",
				"given up since this process started")),
		h("p.hint", {text: "The admin API has no dead-letter endpoint yet: list and retry " +
			"them on the server with "}, h("code", {text: "smsrouter outbox list --state dead"}),
		" and ", h("code", {text: "smsrouter outbox retry ID|--all"}), "."));
	} else {
		box.replaceChildren(notice("No metrics: " + m.reason.message, "error"));
	}
}
