/* Shared declarations of the CPython binding (not of the C core, which knows nothing of Python). */
#ifndef PHOTOMATCH_BINDING_H
#define PHOTOMATCH_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Each binding file contributes one method table; _binding.c adds them all to the module. */
extern PyMethodDef pm_hash_methods[];
extern PyMethodDef pm_index_methods[];

#endif
