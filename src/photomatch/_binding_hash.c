/* Binding of the hashing kernels (PDQ, pHash). Filled in by the hashing work. */
#include "_binding.h"

PyMethodDef pm_hash_methods[] = {
    {NULL, NULL, 0, NULL},
};
