/* The dispatcher's settings (webhook.h): defaults, the bootstrap file's webhooks.* keys over them,
 * and the checks that need two keys at once. */
#include "webhook/webhook.h"

#include <string.h>

void cg_webhook_config_defaults(struct cg_webhook_config *c)
{
    memset(c, 0, sizeof(*c));
    c->poll_ms = 250;
    c->retry_base_ms = 5000;
    c->retry_max_ms = 3600000;
    c->max_attempts = 12;
    c->timeout_ms = 10000;
    c->concurrency = 64;
    c->per_webhook = 4;
    c->lease_ms = 60000;
}

void cg_webhook_config_apply(struct cg_webhook_config *c, const struct cg_config *f)
{
    if (f->webhook_poll_ms) c->poll_ms = f->webhook_poll_ms;
    if (f->webhook_retry_base_ms) c->retry_base_ms = f->webhook_retry_base_ms;
    if (f->webhook_retry_max_ms) c->retry_max_ms = f->webhook_retry_max_ms;
    if (f->webhook_max_attempts) c->max_attempts = f->webhook_max_attempts;
    if (f->webhook_timeout_ms) c->timeout_ms = f->webhook_timeout_ms;
    if (f->webhook_concurrency) c->concurrency = f->webhook_concurrency;
    if (f->webhook_per_webhook) c->per_webhook = f->webhook_per_webhook;
    /* a claim's lease outlives the attempt it covers (dial, then request and head, then body),
     * else a slow attempt's delivery would be claimed again while it runs */
    uint32_t need = c->timeout_ms * 3 + 5000;
    if (c->lease_ms < need) c->lease_ms = need;
}

int cg_webhook_config_check(const struct cg_webhook_config *c, struct cg_err *err)
{
    if (!c->poll_ms || !c->retry_base_ms || !c->max_attempts || !c->timeout_ms || !c->concurrency ||
        !c->per_webhook || !c->lease_ms)
        return cg_err_set(err, CG_EINVAL, "a webhooks setting is 0");
    if (c->retry_base_ms > c->retry_max_ms) {
        cg_err_set(err, CG_EINVAL, "webhooks.retry_base_ms (%u) is more than webhooks.retry_max_ms (%u), the cap of "
                                   "every delay",
                   c->retry_base_ms, c->retry_max_ms);
        return cg_err_hint(err, "lower webhooks.retry_base_ms or raise webhooks.retry_max_ms in the config file");
    }
    if (c->per_webhook > c->concurrency) {
        cg_err_set(err, CG_EINVAL, "webhooks.per_webhook (%u) is more than webhooks.concurrency (%u), the deliveries "
                                   "in flight in all",
                   c->per_webhook, c->concurrency);
        return cg_err_hint(err, "lower webhooks.per_webhook or raise webhooks.concurrency in the config file");
    }
    if (c->lease_ms <= c->timeout_ms * 3ull)
        return cg_err_set(err, CG_EINVAL, "the lease of a claimed delivery (%u ms) must be longer than three "
                                          "webhooks.timeout_ms (%u)",
                          c->lease_ms, c->timeout_ms);
    return 0;
}
