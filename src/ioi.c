/* The IOI prompt generator of the IOI paper's code (docs/design.md, "IOI prompts"), as the
 * notebook calls it: generate_data_and_caches(n, seed, only_ioi=True).
 * The order of random draws is part of the contract: it is what makes the
 * prompts identical to the original's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/error.h"
#include "headcal/ioi.h"
#include "headcal/pyrandom.h"

/* BABA_TEMPLATES[0:7]; the ABBA ones are derived from them. */
static const char *const baba[7] = {
    "Then, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]",
    "Then, [B] and [A] had a lot of fun at the [PLACE]. [B] gave a [OBJECT] to [A]",
    "Then, [B] and [A] were working at the [PLACE]. [B] decided to give a [OBJECT] to [A]",
    "Then, [B] and [A] were thinking about going to the [PLACE]. [B] wanted to give a [OBJECT] to [A]",
    "Then, [B] and [A] had a long argument, and afterwards [B] said to [A]",
    "After [B] and [A] went to the [PLACE], [B] gave a [OBJECT] to [A]",
    "When [B] and [A] got a [OBJECT] at the [PLACE], [B] decided to give it to [A]",
};

static const char *const names[] = {
    "Aaron", "Adam", "Alan", "Alex", "Alice", "Amy", "Anderson", "Andre",
    "Andrew", "Andy", "Anna", "Anthony", "Arthur", "Austin", "Blake", "Brandon",
    "Brian", "Carter", "Charles", "Charlie", "Christian", "Christopher", "Clark", "Cole",
    "Collins", "Connor", "Crew", "Crystal", "Daniel", "David", "Dean", "Edward",
    "Elizabeth", "Emily", "Eric", "Eva", "Ford", "Frank", "George", "Georgia",
    "Graham", "Grant", "Henry", "Ian", "Jack", "Jacob", "Jake", "James",
    "Jamie", "Jane", "Jason", "Jay", "Jennifer", "Jeremy", "Jessica", "John",
    "Jonathan", "Jordan", "Joseph", "Joshua", "Justin", "Kate", "Kelly", "Kevin",
    "Kyle", "Laura", "Leon", "Lewis", "Lisa", "Louis", "Luke", "Madison",
    "Marco", "Marcus", "Maria", "Mark", "Martin", "Mary", "Matthew", "Max",
    "Michael", "Michelle", "Morgan", "Patrick", "Paul", "Peter", "Prince", "Rachel",
    "Richard", "River", "Robert", "Roman", "Rose", "Ruby", "Russell", "Ryan",
    "Sarah", "Scott", "Sean", "Simon", "Stephen", "Steven", "Sullivan", "Taylor",
    "Thomas", "Tyler", "Victoria", "Warren", "William",
};
static const char *const places[] = {"store", "garden", "restaurant", "school",
                                     "hospital", "office", "house", "station"};
static const char *const objects[] = {"ring", "kiss", "bone", "basketball",
                                      "computer", "necklace", "drink", "snack"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ABBA[i]: BABA[i] with its first [B] turned into [A] and the [A] after it
 * into [B] (only the first clause changes). */
static void make_abba(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src);
    char *b = strstr(dst, "[B]");
    char *a = strstr(b + 3, "[A]");
    b[1] = 'A';
    a[1] = 'B';
}

/* Replaces every placeholder at once; the values hold none, so this equals
 * the original's successive str.replace calls. */
static char *fill(const char *tmpl, const char *io, const char *subj, const char *place,
                  const char *object)
{
    static const char *const keys[4] = {"[A]", "[B]", "[PLACE]", "[OBJECT]"};
    const char *val[4] = {io, subj, place, object};
    size_t cap = strlen(tmpl) + 1;
    for (const char *p = tmpl; *p; p++)
        if (*p == '[')
            cap += 16;      /* every name, place and object is under 16 bytes */
    char *out = hc_malloc(cap), *o = out;
    if (!out)
        return NULL;
    for (const char *p = tmpl; *p;) {
        size_t k = 0;
        while (k < 4 && strncmp(p, keys[k], strlen(keys[k])))
            k++;
        if (k == 4) {
            *o++ = *p++;
            continue;
        }
        size_t l = strlen(val[k]);
        memcpy(o, val[k], l);
        o += l;
        p += strlen(keys[k]);
    }
    *o = 0;
    return out;
}

void hc_ioi_free(char **texts, int n)
{
    if (!texts)
        return;
    for (int i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
}

int hc_ioi_prompts(int n, unsigned seed, char ***texts)
{
    *texts = NULL;
    if (n < 0)
        return hc_fail(HC_EUSAGE, "ioi: %d prompts requested", n);
    char abba[COUNT(baba)][128];
    const char *templates[2 * COUNT(baba)];
    for (size_t i = 0; i < COUNT(baba); i++) {
        make_abba(abba[i], sizeof abba[i], baba[i]);
        templates[i] = baba[i];
        templates[COUNT(baba) + i] = abba[i];
    }
    hc_mt19937 rng;
    hc_py_seed(&rng, seed);
    hc_py_shuffle(&rng, templates, COUNT(templates), sizeof templates[0]);

    char **out = hc_calloc((size_t)n, sizeof *out);
    if (!out)
        return -1;
    for (int i = 0; i < n; i++) {
        const char *tmpl = templates[hc_py_choice(&rng, COUNT(templates))];
        size_t n1, n2, n3;
        do {
            n1 = hc_py_choice(&rng, COUNT(names));
            n2 = hc_py_choice(&rng, COUNT(names));
            n3 = hc_py_choice(&rng, COUNT(names));  /* n3 only enters the all-distinct test */
        } while (n1 == n2 || n1 == n3 || n2 == n3);
        const char *place = places[hc_py_choice(&rng, COUNT(places))];
        const char *object = objects[hc_py_choice(&rng, COUNT(objects))];
        out[i] = fill(tmpl, names[n1], names[n2], place, object);
        if (!out[i]) {
            hc_ioi_free(out, i);
            return -1;
        }
    }
    *texts = out;
    return 0;
}
