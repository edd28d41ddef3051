#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_number.h"

/* The shortest of precisions lo..hi (printf %g) that reads back to v, or
 * "null" for a non-finite v; a float is read as JSON readers do, strtod
 * then a cast to float. */
static void shortest_text(double v, int lo, int hi, int is_float, char buf[40])
{
    if (!isfinite(v)) {
        snprintf(buf, 40, "null");
        return;
    }
    for (int prec = lo; prec <= hi; prec++) {
        snprintf(buf, 40, "%.*g", prec, v);
        if (is_float ? (float)strtod(buf, NULL) == (float)v : strtod(buf, NULL) == v)
            break;
    }
    /* JSON wants '.', whatever LC_NUMERIC says (the check above reads the
     * locale's own form). */
    for (char *p = buf; *p; p++)
        if (*p == ',')
            *p = '.';
}

static cJSON *shortest(double v, int lo, int hi, int is_float)
{
    if (!isfinite(v))
        return cJSON_CreateNull();
    char buf[40];
    shortest_text(v, lo, hi, is_float, buf);
    return cJSON_CreateRaw(buf);
}

void hc_json_real_text(double v, char buf[40])
{
    shortest_text(v, 15, 17, 0, buf);
}

cJSON *hc_json_real(double v)
{
    return shortest(v, 15, 17, 0);
}

cJSON *hc_json_float(float v)
{
    return shortest(v, 6, 9, 1);
}
