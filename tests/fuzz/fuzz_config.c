/* config.json: whatever it accepts is a model headcal can lay out. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "headcal/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hc_config cfg;
    if (hc_config_load(&cfg, fuzz_file(0, ".json", data, size)))
        return 0;
    if (cfg.d_head * cfg.n_head != cfg.d_model || cfg.bos < 0 || cfg.bos >= cfg.d_vocab || !(cfg.ln_eps > 0) ||
        hc_params_size(&cfg) == 0)
        abort();
    return 0;
}
