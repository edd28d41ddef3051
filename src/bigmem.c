#define _DEFAULT_SOURCE
#include "headcal/bigmem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Under AddressSanitizer the arrays stay on the heap, where its red zones
 * catch an overrun of the slab or of a W_OU block; a mapping has none. */
#if defined(__SANITIZE_ADDRESS__)
#define HC_BIGMEM_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HC_BIGMEM_HEAP 1
#endif
#endif

void *hc_bigmem_alloc(size_t bytes)
{
    size_t n = bytes ? bytes : 1;
#ifdef HC_BIGMEM_HEAP
    /* page-aligned on the heap too: the sweep's kernels use aligned loads */
    void *p = NULL;
    if (posix_memalign(&p, (size_t)sysconf(_SC_PAGESIZE), n))
        return NULL;
    return memset(p, 0, n);
#else
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, n, MADV_HUGEPAGE); /* a hint: refused where huge pages are off */
#endif
    return p;
#endif
}

void hc_bigmem_free(void *p, size_t bytes)
{
#ifdef HC_BIGMEM_HEAP
    (void)bytes;
    free(p);
#else
    if (p)
        munmap(p, bytes ? bytes : 1);
#endif
}
