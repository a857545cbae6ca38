/* libFuzzer target: the config.json and open_clip_config.json readers on
 * arbitrary text, followed by end-of-text search with whatever
 * configuration was read. */
#include <stdint.h>
#include <stdlib.h>

#include "checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clipt_checkpoint_config cc;
    const int32_t ids[2 * 4] = {49406, 320, 49407, 0, 1, 2, 999, 2};
    int32_t eot[2];
    if (clipt_config_parse((const char *)data, size, "fuzz config", &cc) == CLIPT_OK) {
        clipt_eot_positions(&cc.model, ids, 2, 4, eot);
    }
    if (clipt_open_clip_config_parse((const char *)data, size, "fuzz config", &cc) ==
        CLIPT_OK) {
        clipt_eot_positions(&cc.model, ids, 2, 4, eot);
    }
    return 0;
}
