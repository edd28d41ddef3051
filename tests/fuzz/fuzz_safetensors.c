/* The safetensors reader on arbitrary files: the header is validated
 * completely, and every tensor it accepts converts without reading outside
 * the mapping. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "headcal/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hc_safetensors st;
    if (hc_st_open(&st, fuzz_file(0, ".safetensors", data, size)))
        return 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const hc_st_tensor *t = &st.tensors[i];
        if (t->data < st.map || t->data + t->nbytes > st.map + st.map_size || hc_st_find(&st, t->name) == NULL)
            abort();
        float *dst = malloc(t->n_elems * sizeof(float) + 1);
        hc_st_to_f32(t, dst);
        free(dst);
    }
    hc_st_close(&st);
    return 0;
}
