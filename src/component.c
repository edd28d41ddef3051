#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "headcal/component.h"

/* Up to 9 decimal digits, no sign. */
static int parse_digits(const char **s, int *out)
{
    const char *p = *s;
    long v = 0;
    while (isdigit((unsigned char)*p) && p - *s < 9)
        v = v * 10 + (*p++ - '0');
    if (p == *s || isdigit((unsigned char)*p))
        return -1;
    *out = (int)v;
    *s = p;
    return 0;
}

int hc_component_parse(const char *s, hc_component *c)
{
    hc_component t;
    if (!strncmp(s, "MLP", 3)) {
        s += 3;
        t.head = HC_MLP;
        if (parse_digits(&s, &t.layer))
            return -1;
    } else {
        int prefixed = *s == 'L';
        s += prefixed;
        if (parse_digits(&s, &t.layer) || *s++ != (prefixed ? 'H' : '.') ||
            parse_digits(&s, &t.head))
            return -1;
    }
    if (*s)
        return -1;
    *c = t;
    return 0;
}

void hc_component_name(hc_component c, char *buf, size_t n)
{
    if (c.head == HC_MLP)
        snprintf(buf, n, "MLP%d", c.layer);
    else
        snprintf(buf, n, "L%dH%d", c.layer, c.head);
}

int hc_component_cmp(const hc_component *a, const hc_component *b)
{
    if (a->layer != b->layer)
        return a->layer < b->layer ? -1 : 1;
    /* The MLP acts after the layer's attention heads. */
    unsigned ha = (unsigned)a->head, hb = (unsigned)b->head;
    return ha < hb ? -1 : ha > hb;
}
