/* The router's outcome reporting: each inbound message's outcome counted and logged once,
 * when it is durable. */
#include <stdbool.h>

#include "log.h"
#include "metrics.h"
#include "router.h"
#include "router_private.h"

/* Counted once committed (durable, for an answer that waits for it): a message refused
 * with 503 and retried counts once. */
void router__count(const struct router_result *ret) {
	static const enum metrics_message counted[] = {
		[ROUTER_ROUTED] = METRICS_MSG_ROUTED,
		[ROUTER_UNROUTED] = METRICS_MSG_UNROUTED,
		[ROUTER_RATE_LIMITED] = METRICS_MSG_RATE_LIMITED,
		[ROUTER_OPTED_OUT] = METRICS_MSG_OPTED_OUT,
		[ROUTER_OPTED_IN] = METRICS_MSG_OPTED_IN,
		[ROUTER_HELP] = METRICS_MSG_HELP,
		[ROUTER_BLOCKED] = METRICS_MSG_BLOCKED,
		[ROUTER_DUPLICATE] = METRICS_MSG_DUPLICATE,
		[ROUTER_OVER_BUDGET] = METRICS_MSG_OVER_BUDGET,
		[ROUTER_PAUSED] = METRICS_MSG_PAUSED,
		[ROUTER_HUMAN] = METRICS_MSG_HUMAN,
	};
	metrics_message(counted[ret->outcome]);
}

/* What happened to job's message, logged once, when it is durable: a message that fails
 * to commit is logged only as failed (by the webhook). */
void router__log_outcome(const struct router_job *job, bool rest, bool operator) {
	const struct router_inbound *in = job->in;
	const char *user = job->result.user_id;

	switch (job->result.outcome) {
	case ROUTER_ROUTED:
		if (rest) {
			log_info("inbound.queued", LOG_STR("sid", in->sid), LOG_PHONE("from", in->from),
					LOG_STR("user", user));
		} else {
			log_info("inbound.routed", LOG_STR("sid", in->sid), LOG_PHONE("from", in->from),
					LOG_STR("user", user), LOG_STR("channel", phone_channel_name(job->channel)),
					LOG_STR("agent", job->agent ? job->agent : ""),
					LOG_INT("agent_ms", job->agent_ms));
		}
		break;
	case ROUTER_UNROUTED:
		log_info("inbound.unrouted", LOG_STR("sid", in->sid), LOG_PHONE("from", in->from),
				LOG_STR("reason", job->refused ? "address" : "unknown_sender"),
				LOG_INT("onboarding", job->onboarded));
		break;
	case ROUTER_HELP:
		log_info("inbound.help", LOG_STR("sid", in->sid), LOG_PHONE("from", in->from));
		break;
	case ROUTER_OPTED_OUT:
	case ROUTER_OPTED_IN:
		log_info(job->result.outcome == ROUTER_OPTED_OUT ? "inbound.opt_out" : "inbound.opt_in",
				LOG_STR("sid", in->sid), LOG_PHONE("from", in->from));
		break;
	case ROUTER_BLOCKED:
		log_info("inbound.blocked", LOG_STR("sid", in->sid), LOG_PHONE("from", in->from));
		break;
	case ROUTER_RATE_LIMITED:
		log_warn("inbound.rate_limited", LOG_STR("sid", in->sid),
				LOG_PHONE("from", in->from), LOG_STR("limit", job->limited));
		break;
	case ROUTER_OVER_BUDGET:
		log_warn("inbound.over_budget", LOG_STR("sid", in->sid), LOG_STR("user", user));
		break;
	case ROUTER_DUPLICATE:
		log_info("inbound.duplicate", LOG_STR("sid", in->sid));
		break;
	case ROUTER_PAUSED:
	case ROUTER_HUMAN:
		log_info(job->result.outcome == ROUTER_PAUSED ? "inbound.paused" : "inbound.human",
				LOG_STR("sid", in->sid), LOG_PHONE("from", in->from), LOG_STR("user", user),
				LOG_INT("operator", job->result.outcome == ROUTER_HUMAN && operator));
		break;
	}
}
