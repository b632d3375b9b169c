/* Per-instance alert thresholds (issue 14, optional part): memory share above, hit ratio
 * below, replication lag above, nodes down above. The scraper evaluates them after each pass;
 * a threshold crossed or recovered makes an event (alert_firing, alert_resolved) and, when the
 * instance has a webhook URL, a POST of JSON to it (bounded by --node-call-timeout; a failed
 * delivery is logged, not retried). */
#ifndef DFLY_CONTROL_ALERTS_H
#define DFLY_CONTROL_ALERTS_H

enum alert_kind { AL_MEMORY_SHARE, AL_HIT_RATIO, AL_REPL_LAG, AL_NODES_DOWN, AL_KINDS };

/* The names of the kinds, as in the API's "firing" list and the events. */
extern const char *const alert_names[AL_KINDS];

/* What a pass observed of one instance. has[k]: value[k] is known. */
typedef struct alert_obs {
    const char *instance_id;
    double value[AL_KINDS];
    int has[AL_KINDS];
} alert_obs;

void alerts_init(void);
/* Scraper thread: compares the observations with every instance's thresholds. */
void alerts_evaluate(const alert_obs *obs, int n);

#endif
