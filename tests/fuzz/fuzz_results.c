/* The results reader: anything it accepts passes validation and yields
 * metrics for every variant. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "headcal/results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hc_results r;
    const char *path = fuzz_file(0, ".json", data, size);
    if (hc_results_read(&r, path))
        return 0;
    if (hc_results_validate(&r, path) || hc_results_baseline(&r) < 0)
        abort();
    for (int v = 0; v < r.n_variants; v++) {
        hc_metrics m;
        hc_results_metrics(&r, v, &m);
    }
    hc_results_free(&r);
    return 0;
}
