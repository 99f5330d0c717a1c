/* Module definition of photomatch._ext: gathers the method tables of the binding files.
 * The kernels live in _core/ (plain C11 on raw buffers); the binding files check buffers,
 * release the GIL around the heavy loops and map errors. */
#include <string.h>

#include "_binding.h"
#include "mih.h"

#ifndef PHOTOMATCH_VERSION
#error "PHOTOMATCH_VERSION must be defined by the build (setup.py)"
#endif

int pm_get_buffer(PyObject *obj, Py_buffer *view, const char *name, int ndim, Py_ssize_t itemsize, int is_unsigned) {
    if (!PyObject_CheckBuffer(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a numpy array (an object with the buffer protocol), got %.100s",
                     name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_RECORDS_RO) < 0) return -1;
    const char *f = view->format ? view->format : "B";
    if (*f != '\0' && strchr("@=<>!|", *f) != NULL) f++;
    int ok = view->itemsize == itemsize && f[0] != '\0' && f[1] == '\0';
    if (ok) ok = strchr(is_unsigned ? "BHILQ" : "bhilq", f[0]) != NULL;
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s: expected dtype %sint%d, got buffer format '%.20s'", name,
                     is_unsigned ? "u" : "", (int)(8 * itemsize), view->format ? view->format : "B");
    } else if (view->ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "%s: expected %d dimensions, got %d", name, ndim, view->ndim);
    } else if (!PyBuffer_IsContiguous(view, 'C')) {
        PyErr_Format(PyExc_ValueError, "%s: expected a C-contiguous array (use numpy.ascontiguousarray)", name);
    } else {
        return 0;
    }
    PyBuffer_Release(view);
    return -1;
}

static struct PyModuleDef pm_module = {
    PyModuleDef_HEAD_INIT, "photomatch._ext", "C core of photomatch (kernels behind photomatch._accel).", -1, NULL,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ext(void) {
    PyObject *m = PyModule_Create(&pm_module);
    if (m == NULL) return NULL;
    /* The MIH limits are the C core's: the planner in Python reads them from here (or the twin). */
    if (PyModule_AddFunctions(m, pm_hash_methods) < 0 || PyModule_AddFunctions(m, pm_mih_methods) < 0 ||
        PyModule_AddIntConstant(m, "MIH_MAX_TABLES", PM_MIH_MAX_TABLES) < 0 ||
        PyModule_AddIntConstant(m, "MIH_MAX_WIDTH", PM_MIH_MAX_WIDTH) < 0 ||
        PyModule_AddStringConstant(m, "__version__", PHOTOMATCH_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
