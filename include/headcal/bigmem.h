/* Zeroed, page-aligned memory for the few very large arrays (the model's
 * parameter slab, the W_OU cache): mapped rather than malloc'ed, in
 * transparent huge pages where the system allows (on the heap under
 * AddressSanitizer).  On a virtual machine a fresh 4 KB page's first
 * write costs more than filling it, and these arrays are hundreds of MB to
 * GB that are written once, right after allocation. */
#ifndef HEADCAL_BIGMEM_H
#define HEADCAL_BIGMEM_H

#include <stddef.h>

/* NULL (not reported) when the memory is not there; bytes may be 0. */
void *hc_bigmem_alloc(size_t bytes);
/* p from hc_bigmem_alloc(bytes), or NULL. */
void hc_bigmem_free(void *p, size_t bytes);

#endif
