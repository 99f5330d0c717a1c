/* Binding of the hashing kernels (PDQ, pHash): buffer checks, scratch allocation, GIL release.
 * The kernels are in _core/pdq.c and _core/phash.c; their numpy twins in _native_hash.py have the
 * same names, arguments, results and error types. */
#include "_binding.h"
#include "pdq.h"
#include "phash.h"

/* A C-contiguous uint8 buffer (pm_get_buffer) whose sizes match `shape` where shape[i] >= 0;
 * ValueError naming the argument and the expected shape otherwise. Returns 0 or -1. */
static int get_u8_buffer(PyObject *obj, const char *name, int ndim, const Py_ssize_t *shape, const char *expect,
                         Py_buffer *view) {
    if (pm_get_buffer(obj, view, name, ndim, 1, 1) < 0) return -1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] >= 0 && view->shape[i] != shape[i]) {
            PyErr_Format(PyExc_ValueError, "%s: expected shape %s, got size %zd along axis %d", name, expect,
                         view->shape[i], i);
            PyBuffer_Release(view);
            return -1;
        }
    }
    return 0;
}

/* Scratch for PDQ: none below the hashable size, else the kernel's float count (MemoryError
 * when the size arithmetic overflows or the allocation fails). Sets *out; returns -1 on error. */
static int pdq_scratch(size_t rows, size_t cols, const char *name, float **out) {
    *out = NULL;
    if (rows < 5 || cols < 5) return 0;
    size_t n = pm_pdq_scratch_floats(rows, cols);
    if (n == 0) {
        PyErr_Format(PyExc_MemoryError, "%s: image of %zu x %zu pixels is too large to hash", name, rows, cols);
        return -1;
    }
    *out = PyMem_RawMalloc(n * sizeof(float));
    if (*out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static const Py_ssize_t RGB_SHAPE[3] = {-1, -1, 3};
static const Py_ssize_t GRAY_SHAPE[2] = {-1, -1};

typedef int (*pdq_one_fn)(const uint8_t *, size_t, size_t, float *, uint8_t[PM_PDQ_BYTES], int *);
typedef int (*pdq_eight_fn)(const uint8_t *, size_t, size_t, float *, uint8_t[PM_PDQ_DIHEDRAL][PM_PDQ_BYTES], int *);

/* (H, W, 3) RGB or (H, W) grey, by `gray`. */
static int get_pdq_input(PyObject *arg, int gray, Py_buffer *view) {
    if (gray) return get_u8_buffer(arg, "gray", 2, GRAY_SHAPE, "(H, W)", view);
    return get_u8_buffer(arg, "rgb", 3, RGB_SHAPE, "(H, W, 3)", view);
}

/* Runs one PDQ kernel on an RGB or grey buffer (by `gray`): `one` gives a hash, else `eight` gives
 * the eight dihedral ones. Returns (bytes, quality) or ((bytes x 8), quality). */
static PyObject *pdq_run(PyObject *arg, int gray, pdq_one_fn one, pdq_eight_fn eight) {
    Py_buffer view;
    if (get_pdq_input(arg, gray, &view) < 0) return NULL;
    size_t rows = (size_t)view.shape[0], cols = (size_t)view.shape[1];
    float *scratch;
    if (pdq_scratch(rows, cols, gray ? "gray" : "rgb", &scratch) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    uint8_t hashes[PM_PDQ_DIHEDRAL][PM_PDQ_BYTES];
    int quality = 0;
    Py_BEGIN_ALLOW_THREADS;
    if (one != NULL)
        one((const uint8_t *)view.buf, rows, cols, scratch, hashes[0], &quality);
    else
        eight((const uint8_t *)view.buf, rows, cols, scratch, hashes, &quality);
    Py_END_ALLOW_THREADS;
    PyMem_RawFree(scratch);
    PyBuffer_Release(&view);
    if (one != NULL) return Py_BuildValue("(y#i)", (const char *)hashes[0], (Py_ssize_t)PM_PDQ_BYTES, quality);
    PyObject *tuple = PyTuple_New(PM_PDQ_DIHEDRAL);
    if (tuple == NULL) return NULL;
    for (int v = 0; v < PM_PDQ_DIHEDRAL; v++) {
        PyObject *b = PyBytes_FromStringAndSize((const char *)hashes[v], PM_PDQ_BYTES);
        if (b == NULL) {
            Py_DECREF(tuple);
            return NULL;
        }
        PyTuple_SET_ITEM(tuple, v, b);
    }
    return Py_BuildValue("(Ni)", tuple, quality);
}

static PyObject *py_pdq_hash(PyObject *Py_UNUSED(module), PyObject *arg) { return pdq_run(arg, 0, pm_pdq_hash, NULL); }
static PyObject *py_pdq_hash_gray(PyObject *Py_UNUSED(module), PyObject *arg) {
    return pdq_run(arg, 1, pm_pdq_hash_gray, NULL);
}
static PyObject *py_pdq_dihedral(PyObject *Py_UNUSED(module), PyObject *arg) {
    return pdq_run(arg, 0, NULL, pm_pdq_dihedral);
}
static PyObject *py_pdq_dihedral_gray(PyObject *Py_UNUSED(module), PyObject *arg) {
    return pdq_run(arg, 1, NULL, pm_pdq_dihedral_gray);
}

static PyObject *py_phash_bits(PyObject *Py_UNUSED(module), PyObject *arg) {
    static const Py_ssize_t shape[2] = {PM_PHASH_SIDE, PM_PHASH_SIDE};
    Py_buffer view;
    if (get_u8_buffer(arg, "gray32", 2, shape, "(32, 32)", &view) < 0) return NULL;
    uint8_t out[PM_PHASH_BYTES];
    Py_BEGIN_ALLOW_THREADS;
    pm_phash_bits((const uint8_t *)view.buf, out);
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&view);
    return PyBytes_FromStringAndSize((const char *)out, PM_PHASH_BYTES);
}

PyMethodDef pm_hash_methods[] = {
    {"pdq_hash", py_pdq_hash, METH_O,
     "pdq_hash(rgb) -> (bytes32, quality): PDQ of an (H, W, 3) uint8 C-contiguous RGB array,\n"
     "bit-compatible with Meta's reference (bytes.hex() equals its 64-digit hex)."},
    {"pdq_dihedral", py_pdq_dihedral, METH_O,
     "pdq_dihedral(rgb) -> (8 x bytes32, quality): the 8 dihedral PDQ hashes in the reference order\n"
     "(original, rotate90, rotate180, rotate270, flipX, flipY, flipPlus1, flipMinus1)."},
    {"pdq_hash_gray", py_pdq_hash_gray, METH_O,
     "pdq_hash_gray(gray) -> (bytes32, quality): PDQ of an (H, W) uint8 C-contiguous grey (luma) array;\n"
     "equals pdq_hash of the RGB array whose three channels equal it."},
    {"pdq_dihedral_gray", py_pdq_dihedral_gray, METH_O,
     "pdq_dihedral_gray(gray) -> (8 x bytes32, quality): pdq_dihedral of an (H, W) grey array, likewise."},
    {"phash_bits", py_phash_bits, METH_O,
     "phash_bits(gray32) -> bytes8: pHash bits of a (32, 32) uint8 greyscale array, as imagehash.phash."},
    {NULL, NULL, 0, NULL},
};
