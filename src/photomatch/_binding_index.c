/* Binding of the index kernels (multi-index hashing). Filled in by the index work. */
#include "_binding.h"

PyMethodDef pm_index_methods[] = {
    {NULL, NULL, 0, NULL},
};
