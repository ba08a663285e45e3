/* The admin API (/api/v1/, docs/api.md): REST routes over the CLI's own commands, so that every
 * operation has one implementation with one set of checks and messages, whichever way it is
 * reached. A route names a command and says how the request's path, query and body become its
 * arguments; the command runs in API mode (nothing printed, nothing asked, its JSON answer kept)
 * through cg_cli_exec, which also writes the audit record with the token's name as the actor.
 *
 * Every route but /healthz needs `Authorization: Bearer <token>` (401 without a valid one);
 * the token's role must allow the command (cg_cli_role_allows), else 403. */
#ifndef CG_ADMIN_API_H
#define CG_ADMIN_API_H

#include <jansson.h>

#include "admin/server.h"
#include "cli/cli.h"

struct cg_admin_api {
    struct cg_cli *cli; /* the daemon's: store, environment, master key (borrowed) */
    /* After a change was committed: the daemon reloads now rather than at its next poll. */
    void (*changed)(void *arg);
    /* After an event was stored (POST /api/v1/events): the webhook dispatcher looks now. */
    void (*events_posted)(void *arg);
    /* GET /api/v1/status: the daemon's view (revision, snapshot age, listeners, workers). */
    json_t *(*status)(void *arg);
    /* GET /metrics: the Prometheus text exposition, appended to out. NULL: 404. */
    CG_RESULT (*metrics)(void *arg, struct cg_buf *out);
    void *arg;
    /* HTTPS with admin.client_ca: a request that came with a verified client certificate signs in
     * as admin, with the actor "cert:<subject CN>" (a token is then not needed). */
    bool cert_admins;
};

/* The server's handler (cg_admin_handler_fn); arg is a struct cg_admin_api. */
void cg_admin_api_handle(void *arg, const struct cg_admin_request *rq, struct cg_admin_response *rs);

#endif
