/* Binding of the index kernels (multi-index hashing, _core/mih.c): checks buffers, releases
 * the GIL around the build and the queries, and hands the tables to Python as an opaque capsule
 * (so a query can never be given tables that do not match their codes). */
#include "_binding.h"
#include "mih.h"

#define MIH_CAPSULE "photomatch._ext.mih"

static void mih_capsule_free(PyObject *capsule) {
    pm_mih *mih = (pm_mih *)PyCapsule_GetPointer(capsule, MIH_CAPSULE);
    pm_mih_free(mih);
}

static pm_mih *get_mih(PyObject *obj) {
    if (!PyCapsule_IsValid(obj, MIH_CAPSULE)) {
        PyErr_SetString(PyExc_TypeError, "handle must be the result of mih_build");
        return NULL;
    }
    return (pm_mih *)PyCapsule_GetPointer(obj, MIH_CAPSULE);
}

/* Layout checks shared by the build: starts/widths are int32 vectors of one length m. */
static int get_layout(PyObject *starts_obj, PyObject *widths_obj, Py_buffer *starts, Py_buffer *widths) {
    if (pm_get_buffer(starts_obj, starts, "starts", 1, 4, 0) != 0) return -1;
    if (pm_get_buffer(widths_obj, widths, "widths", 1, 4, 0) != 0) {
        PyBuffer_Release(starts);
        return -1;
    }
    if (starts->shape[0] != widths->shape[0]) {
        PyErr_SetString(PyExc_ValueError, "starts and widths must have the same length");
        PyBuffer_Release(starts);
        PyBuffer_Release(widths);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(mih_build_doc, "mih_build(codes, starts, widths, nthreads) -> handle\n\n"
                            "Build multi-index hashing tables over codes (n, nbytes) uint8; substring i is\n"
                            "bits starts[i] .. starts[i] + widths[i] (int32 arrays, widths 1..24).");

static PyObject *py_mih_build(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *codes_obj, *starts_obj, *widths_obj;
    int nthreads;
    if (!PyArg_ParseTuple(args, "OOOi:mih_build", &codes_obj, &starts_obj, &widths_obj, &nthreads)) return NULL;
    Py_buffer codes, starts, widths;
    if (pm_get_buffer(codes_obj, &codes, "codes", 2, 1, 1) != 0) return NULL;
    if (get_layout(starts_obj, widths_obj, &starts, &widths) != 0) {
        PyBuffer_Release(&codes);
        return NULL;
    }
    size_t n = (size_t)codes.shape[0], nbytes = (size_t)codes.shape[1];
    int m = (int)starts.shape[0];
    PyObject *result = NULL;
    if (starts.shape[0] > PM_MIH_MAX_TABLES ||
        pm_mih_check_layout(nbytes, m, (const int32_t *)starts.buf, (const int32_t *)widths.buf) != 0) {
        PyErr_Format(PyExc_ValueError,
                     "invalid layout: 1..%d substrings of 1..%d bits inside %zu-bit codes are required",
                     PM_MIH_MAX_TABLES, PM_MIH_MAX_WIDTH, nbytes * 8);
    } else if (n >= UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "codes: at most 2**32 - 2 codes per table set");
    } else {
        pm_mih *mih;
        Py_BEGIN_ALLOW_THREADS;
        mih = pm_mih_build((const uint8_t *)codes.buf, n, nbytes, m, (const int32_t *)starts.buf,
                           (const int32_t *)widths.buf, nthreads);
        Py_END_ALLOW_THREADS;
        if (mih == NULL) {
            PyErr_NoMemory();
        } else {
            result = PyCapsule_New(mih, MIH_CAPSULE, mih_capsule_free);
            if (result == NULL) pm_mih_free(mih);
        }
    }
    PyBuffer_Release(&codes);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&widths);
    return result;
}

/* numpy.frombuffer(bytearray(nbytes) filled from src, dtype): the binding needs no numpy headers. */
static PyObject *to_numpy(PyObject *np, const void *src, size_t count, size_t itemsize, const char *dtype) {
    PyObject *ba = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(count * itemsize));
    if (ba == NULL) return NULL;
    if (count) memcpy(PyByteArray_AS_STRING(ba), src, count * itemsize);
    PyObject *arr = PyObject_CallMethod(np, "frombuffer", "Os", ba, dtype);
    Py_DECREF(ba);
    return arr;
}

PyDoc_STRVAR(mih_range_search_doc,
             "mih_range_search(handle, codes, queries, radii, threshold, nthreads)\n"
             "    -> (lims int64, distances int32, positions int64, candidates)\n\n"
             "Positions of every indexed code within threshold (inclusive) of each query, unordered\n"
             "within a query. radii (int32, one per substring, -1 to skip) must satisfy\n"
             "sum(radii + 1) > threshold for the search to be exact.");

static PyObject *py_mih_range_search(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *handle, *codes_obj, *queries_obj, *radii_obj;
    int threshold, nthreads;
    if (!PyArg_ParseTuple(args, "OOOOii:mih_range_search", &handle, &codes_obj, &queries_obj, &radii_obj, &threshold,
                          &nthreads))
        return NULL;
    pm_mih *mih = get_mih(handle);
    if (mih == NULL) return NULL;
    Py_buffer codes, queries, radii;
    if (pm_get_buffer(codes_obj, &codes, "codes", 2, 1, 1) != 0) return NULL;
    if (pm_get_buffer(queries_obj, &queries, "queries", 2, 1, 1) != 0) {
        PyBuffer_Release(&codes);
        return NULL;
    }
    if (pm_get_buffer(radii_obj, &radii, "radii", 1, 4, 0) != 0) {
        PyBuffer_Release(&codes);
        PyBuffer_Release(&queries);
        return NULL;
    }
    PyObject *result = NULL;
    size_t nbytes = pm_mih_code_size(mih);
    int m = pm_mih_tables(mih);
    int radii_ok = radii.shape[0] == m;
    for (int i = 0; radii_ok && i < m; i++) radii_ok = ((const int32_t *)radii.buf)[i] >= -1;
    if ((size_t)codes.shape[1] != nbytes || (size_t)codes.shape[0] < pm_mih_count(mih)) {
        PyErr_Format(PyExc_ValueError, "codes must have at least %zu rows of %zu bytes (the codes the tables index)",
                     pm_mih_count(mih), nbytes);
    } else if ((size_t)queries.shape[1] != nbytes) {
        PyErr_Format(PyExc_ValueError, "queries must have shape (n, %zu)", nbytes);
    } else if (!radii_ok) {
        PyErr_Format(PyExc_ValueError, "radii must hold %d values >= -1", m);
    } else if (threshold < 0 || (size_t)threshold > nbytes * 8) {
        PyErr_Format(PyExc_ValueError, "threshold must be in 0..%zu", nbytes * 8);
    } else {
        pm_mih_result res;
        int rc;
        size_t nq = (size_t)queries.shape[0];
        Py_BEGIN_ALLOW_THREADS;
        rc = pm_mih_range_search(mih, (const uint8_t *)codes.buf, (const uint8_t *)queries.buf, nq,
                                 (const int32_t *)radii.buf, threshold, nthreads, &res);
        Py_END_ALLOW_THREADS;
        if (rc != 0) {
            PyErr_NoMemory();
        } else {
            PyObject *np = PyImport_ImportModule("numpy");
            PyObject *lims = NULL, *dist = NULL, *pos = NULL;
            if (np != NULL) {
                lims = to_numpy(np, res.lims, nq + 1, sizeof(int64_t), "int64");
                dist = lims ? to_numpy(np, res.dist, res.total, sizeof(int32_t), "int32") : NULL;
                pos = dist ? to_numpy(np, res.pos, res.total, sizeof(int64_t), "int64") : NULL;
            }
            if (pos != NULL) result = Py_BuildValue("(OOOK)", lims, dist, pos, (unsigned long long)res.candidates);
            Py_XDECREF(np);
            Py_XDECREF(lims);
            Py_XDECREF(dist);
            Py_XDECREF(pos);
            pm_mih_result_free(&res);
        }
    }
    PyBuffer_Release(&codes);
    PyBuffer_Release(&queries);
    PyBuffer_Release(&radii);
    return result;
}

PyDoc_STRVAR(mih_memory_doc, "mih_memory(handle) -> bytes held by the tables");

static PyObject *py_mih_memory(PyObject *self, PyObject *handle) {
    (void)self;
    pm_mih *mih = get_mih(handle);
    if (mih == NULL) return NULL;
    return PyLong_FromSize_t(pm_mih_memory(mih));
}

PyMethodDef pm_mih_methods[] = {
    {"mih_build", py_mih_build, METH_VARARGS, mih_build_doc},
    {"mih_range_search", py_mih_range_search, METH_VARARGS, mih_range_search_doc},
    {"mih_memory", py_mih_memory, METH_O, mih_memory_doc},
    {NULL, NULL, 0, NULL},
};
