// Compiles the public header as C++ and calls a few functions through it,
// so a C++ program can include clipt.h and link libclipt as it is.
#include <clipt.h>

#include <cstdio>
#include <cstring>

int main()
{
    if (clipt_version() != CLIPT_VERSION_NUMBER) {
        std::printf("cxx_header: header version %d, library %d\n",
                    CLIPT_VERSION_NUMBER, clipt_version());
        return 1;
    }
    clipt_model_config cfg;
    if (clipt_model_config_preset("small", &cfg) != CLIPT_OK || cfg.width != 256) {
        std::printf("cxx_header: preset \"small\" failed: %s\n", clipt_last_error());
        return 1;
    }
    if (std::strcmp(clipt_status_name(CLIPT_ERR_SHAPE), "CLIPT_ERR_SHAPE") != 0) {
        std::printf("cxx_header: status name lookup failed\n");
        return 1;
    }
    std::printf("cxx_header: clipt.h compiles and links as C++ (libclipt %s)\n",
                clipt_version_string());
    return 0;
}
