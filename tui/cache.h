/* The explorer's cache: one results file per analysis, named by a hash of
 * everything that decides its numbers (model and data hashes, the run's
 * parameters) and kept in $HEADCAL_CACHE_DIR, else $XDG_CACHE_HOME/headcal,
 * else ~/.cache/headcal.  `headcal run` stores a completed run there too,
 * so that the explorer opens the same analysis at once.  Explorers that
 * share the cache merge their joint ablations into it instead of
 * overwriting each other's.  The cache is a convenience: when it cannot be
 * read or written the caller computes anyway and says so.  Curses-free. */
#ifndef HEADCAL_TUI_CACHE_H
#define HEADCAL_TUI_CACHE_H

#include "headcal/results.h"

typedef struct {
    char path[4200];    /* the analysis's results file */
    char session[4200]; /* the explorer's session beside it (session.h) */
    char lock[4200];    /* held while the results file is read and replaced */
} explorer_cache;

/* Names (and creates) the cache entry of the run r describes.  Fails, with
 * a message naming the directory, when there is no usable directory. */
int cache_locate(explorer_cache *c, const hc_results *r);
/* Replaces r by the cached results of the same run when the cache holds
 * every variant r has (and maybe more) over every batch r has: 1 then, 0 when it holds nothing
 * usable, -1 when the entry exists but cannot be read (message). */
int cache_load(const explorer_cache *c, hc_results *r);
/* Writes r into the cache.  Joint ablations another explorer stored there
 * meanwhile (over every batch r has) are first added to r, and to `sets`
 * (results holding the joint ablations over every batch) where they cover
 * its batches.  With sets NULL (a batch run) every variant of the entry
 * that r lacks is added, so that a run over fewer heads never shrinks the
 * entry.  Returns how many variants were added, or -1 (message). */
int cache_store(const explorer_cache *c, hc_results *r, hc_results *sets);

/* The end of a cache failure's message (what the system said), for a
 * status bar with no room for the paths. */
const char *cache_reason(const char *msg);

#endif
