/* IOI prompts exactly as the notebook's generate_data_and_caches(n,
 * seed=S, only_ioi=True) produces them (docs/design.md, "IOI prompts"): the "mixed"
 * templates BABA[0:7] + ABBA[0:7], names, places and objects drawn with
 * CPython's `random` seeded with S.  Texts only; tokenising (BOS + text) is
 * the dataset's job. */
#ifndef HEADCAL_IOI_H
#define HEADCAL_IOI_H

/* *texts receives n malloc'd NUL-terminated prompts (free with
 * hc_ioi_free).  Returns 0, or -1 with hc_fail on a bad n or no memory. */
int hc_ioi_prompts(int n, unsigned seed, char ***texts);
void hc_ioi_free(char **texts, int n);

#endif
