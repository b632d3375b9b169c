/* Alert evaluation: thresholds from metric_alerts, state (a bit per firing kind) kept in the
 * same row so that a restart of the daemon does not repeat notifications. */
#include "alerts.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "store.h"

#define URL_MAX 2048
#define NOTE_MAX 512

const char *const alert_names[AL_KINDS] = {"memory_share", "hit_ratio", "replication_lag",
                                           "nodes_down"};

/* A notification to send once the transaction is committed. */
typedef struct note {
    char url[URL_MAX];
    char body[NOTE_MAX];
} note;

void alerts_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* 1 when value crosses the threshold of kind (hit ratio: below, the others: above). */
static int crossed(int kind, double value, double threshold)
{
    return kind == AL_HIT_RATIO ? value < threshold : value > threshold;
}

static const alert_obs *obs_find(const alert_obs *obs, int n, const char *iid)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(obs[i].instance_id, iid))
            return &obs[i];
    return NULL;
}

static void save_mask(const char *iid, int mask)
{
    sqlite3_stmt *st = db_prepare("UPDATE metric_alerts SET firing = ? WHERE instance_id = ?");
    if (!st)
        return;
    sqlite3_bind_int(st, 1, mask);
    db_bind_text(st, 2, iid);
    db_step_done(st);
    db_done(st);
}

static void post(const note *nt)
{
    CURL *c = curl_easy_init();
    if (!c)
        return;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, nt->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, nt->body);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ctl_cfg.node_call_timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status >= 300)
        log_warning("alerts: webhook %s: %s (status %ld)", nt->url, curl_easy_strerror(rc), status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

/* One instance's thresholds against what was observed: events for the changes, notes for its
 * webhook. Returns the new mask. */
static int evaluate_one(sqlite3_stmt *st, const alert_obs *o, int mask, note **notes, int *nnotes)
{
    const char *iid = db_text(st, 0);
    const char *url = db_text(st, 5);
    int now_mask = mask;
    for (int k = 0; k < AL_KINDS; k++) {
        if (sqlite3_column_type(st, 1 + k) == SQLITE_NULL || !o->has[k]) {
            now_mask &= ~(1 << k); /* no threshold, or nothing known: not firing */
            continue;
        }
        double threshold = sqlite3_column_double(st, 1 + k);
        if (crossed(k, o->value[k], threshold))
            now_mask |= 1 << k;
        else
            now_mask &= ~(1 << k);
        if (((mask ^ now_mask) >> k & 1) == 0)
            continue;
        const char *state = now_mask >> k & 1 ? "firing" : "resolved";
        store_event(iid, now_mask >> k & 1 ? "alert_firing" : "alert_resolved", NULL, NULL, NULL,
                    "%s %.6g (threshold %.6g)", alert_names[k], o->value[k], threshold);
        if (!*url)
            continue;
        *notes = mem_realloc(*notes, sizeof(note) * (size_t)(*nnotes + 1));
        note *nt = &(*notes)[(*nnotes)++];
        snprintf(nt->url, sizeof(nt->url), "%s", url);
        snprintf(nt->body, sizeof(nt->body),
                 "{\"instance_id\": \"%s\", \"alert\": \"%s\", \"state\": \"%s\", "
                 "\"value\": %.17g, \"threshold\": %.17g}",
                 iid, alert_names[k], state, o->value[k], threshold);
    }
    return now_mask;
}

void alerts_evaluate(const alert_obs *obs, int n)
{
    note *notes = NULL;
    int nnotes = 0;
    if (db_begin() != SQLITE_OK)
        return;
    sqlite3_stmt *st = db_prepare(
        "SELECT instance_id, memory_share_max, hit_ratio_min, replication_lag_max_bytes, "
        "nodes_down_max, coalesce(webhook_url, ''), firing FROM metric_alerts");
    /* Collected first: the updates must not run while this statement is open on the rows. */
    typedef struct change {
        char iid[ID_MAX];
        int mask;
    } change;
    change *changes = NULL;
    int nchanges = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const alert_obs *o = obs_find(obs, n, db_text(st, 0));
        if (!o)
            continue; /* not scraped (stopped, deleted): keep its state */
        int mask = sqlite3_column_int(st, 6);
        int now_mask = evaluate_one(st, o, mask, &notes, &nnotes);
        if (now_mask == mask)
            continue;
        changes = mem_realloc(changes, sizeof(change) * (size_t)(nchanges + 1));
        snprintf(changes[nchanges].iid, ID_MAX, "%s", db_text(st, 0));
        changes[nchanges++].mask = now_mask;
    }
    db_done(st);
    for (int i = 0; i < nchanges; i++)
        save_mask(changes[i].iid, changes[i].mask);
    free(changes);
    if (db_commit() != SQLITE_OK) {
        db_rollback();
        nnotes = 0;
    }
    for (int i = 0; i < nnotes; i++)
        post(&notes[i]);
    free(notes);
}
