/* JSON numbers that read back exactly: the shortest text strtod (or, for a
 * float, strtof) turns into the same value, always with a '.' whatever
 * LC_NUMERIC says.  Private to the engine's results-file code. */
#ifndef HEADCAL_JSON_NUMBER_H
#define HEADCAL_JSON_NUMBER_H

#include <cjson/cJSON.h>

/* A raw cJSON number, or null for a non-finite value; NULL when out of memory. */
cJSON *hc_json_real(double v);
cJSON *hc_json_float(float v);
/* The same text into buf ("null" for a non-finite value). */
void hc_json_real_text(double v, char buf[40]);

#endif
