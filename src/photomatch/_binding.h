/* Shared declarations of the CPython binding (not of the C core, which knows nothing of Python). */
#ifndef PHOTOMATCH_BINDING_H
#define PHOTOMATCH_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Each binding file contributes one method table; _binding.c adds them all to the module. */
extern PyMethodDef pm_hash_methods[];
extern PyMethodDef pm_mih_methods[];

/* Acquires a C-contiguous buffer of `ndim` dimensions whose items are `itemsize`-byte integers
 * (unsigned when `is_unsigned`), naming the argument `name` in errors, as the numpy twins do:
 * TypeError when `obj` is not a buffer or has the wrong item type, ValueError when it has the
 * wrong number of dimensions or is not C-contiguous. Returns 0, or -1 with the error set. */
int pm_get_buffer(PyObject *obj, Py_buffer *view, const char *name, int ndim, Py_ssize_t itemsize, int is_unsigned);

#endif
