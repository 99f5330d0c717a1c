/* Module definition of photomatch._ext: gathers the method tables of the binding files.
 * The kernels live in _core/ (plain C11 on raw buffers); the binding files check buffers,
 * release the GIL around the heavy loops and map errors. */
#include "_binding.h"

#ifndef PHOTOMATCH_VERSION
#error "PHOTOMATCH_VERSION must be defined by the build (setup.py)"
#endif

static struct PyModuleDef pm_module = {
    PyModuleDef_HEAD_INIT, "photomatch._ext", "C core of photomatch (kernels behind photomatch._accel).", -1, NULL,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ext(void) {
    PyObject *m = PyModule_Create(&pm_module);
    if (m == NULL) return NULL;
    if (PyModule_AddFunctions(m, pm_hash_methods) < 0 || PyModule_AddFunctions(m, pm_index_methods) < 0 ||
        PyModule_AddStringConstant(m, "__version__", PHOTOMATCH_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
