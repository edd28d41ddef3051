#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/metrics.h"
#include "session.h"

#define SESSION_FORMAT "headcal-session/1"

const char *const session_sort_names[SESSION_N_SORTS] = {"value", "|value|", "significance"};

static cJSON *names(const hc_component *c, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        char name[32];
        hc_component_name(c[i], name, sizeof name);
        cJSON_AddItemToArray(a, cJSON_CreateString(name));
    }
    return a;
}

int session_save(const explorer_session *s, const char *path)
{
    char cursor[32];
    hc_component_name(s->cursor, cursor, sizeof cursor);
    cJSON *o = cJSON_CreateObject(), *sets = cJSON_CreateArray();
    for (int i = 0; sets && i < s->n_sets; i++)
        cJSON_AddItemToArray(sets, cJSON_CreateString(s->sets[i]));
    cJSON_AddStringToObject(o, "format", SESSION_FORMAT);
    cJSON_AddStringToObject(o, "cursor", cursor);
    cJSON_AddItemToObject(o, "selected", names(s->selected, s->n_selected));
    cJSON_AddItemToObject(o, "sets", sets);
    cJSON_AddStringToObject(o, "metric", hc_metric_name(s->metric));
    cJSON_AddBoolToObject(o, "clip", s->clip);
    cJSON_AddBoolToObject(o, "ranked", s->ranked);
    cJSON_AddBoolToObject(o, "qk", s->qk);
    cJSON_AddStringToObject(o, "sort", session_sort_names[s->sort]);
    cJSON_AddStringToObject(o, "focus", s->focus_ranked ? "ranked" : "grid");
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return hc_fail(HC_EBAD, "%s: out of memory", path);
    int rc = hc_write_text(path, text);
    free(text);
    return rc;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int flag(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

int session_load(explorer_session *s, const char *path)
{
    if (access(path, F_OK))
        return 0;
    char *text;
    size_t len;
    if (hc_read_file(path, 1 << 20, &text, &len))
        return -1;
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    const char *fmt = str(o, "format");
    if (!o || !fmt || strcmp(fmt, SESSION_FORMAT)) {
        cJSON_Delete(o);
        return hc_fail(HC_EBAD, "%s: not a headcal session", path);
    }
    *s = (explorer_session){0};
    const char *m = str(o, "metric"), *sort = str(o, "sort"), *cur = str(o, "cursor"), *focus = str(o, "focus");
    s->metric = m ? hc_metric_lookup(m) : -1;
    for (int i = 0; sort && i < SESSION_N_SORTS; i++)
        if (!strcmp(sort, session_sort_names[i]))
            s->sort = i;
    if (!cur || hc_component_parse(cur, &s->cursor))
        s->cursor = (hc_component){0, 0};
    s->clip = flag(o, "clip");
    s->ranked = flag(o, "ranked");
    s->qk = flag(o, "qk");
    s->focus_ranked = focus && !strcmp(focus, "ranked");
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "selected"))
        if (cJSON_IsString(it) && s->n_selected < SESSION_MAX &&
            !hc_component_parse(it->valuestring, &s->selected[s->n_selected]))
            s->n_selected++;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "sets"))
        if (cJSON_IsString(it) && s->n_sets < SESSION_MAX && strlen(it->valuestring) < sizeof s->sets[0])
            snprintf(s->sets[s->n_sets++], sizeof s->sets[0], "%s", it->valuestring);
    cJSON_Delete(o);
    return 1;
}
