/* PDQ (256-bit perceptual hash) bit-compatible with Meta's reference implementation
 * (ThreatExchange pdq/cpp, as vendored by the pdqhash 0.2.8 PyPI package).
 *
 * Plain C11 on raw buffers: no Python, no allocation. The caller provides the scratch buffer,
 * whose size pm_pdq_scratch_floats() gives; it is O(cols * window), not O(rows * cols), because
 * the tent filter is streamed over strips of rows. */
#ifndef PHOTOMATCH_PDQ_H
#define PHOTOMATCH_PDQ_H

#include <stddef.h>
#include <stdint.h>

#define PM_PDQ_BYTES 32
#define PM_PDQ_DIHEDRAL 8

/* Number of floats of scratch needed for an image of rows x cols; 0 means the size
 * computation would overflow size_t (the image is then too large to hash). */
size_t pm_pdq_scratch_floats(size_t rows, size_t cols);

/* PDQ of a C-contiguous rows x cols x 3 RGB uint8 image. The 32 bytes are in the reference's
 * hex order (Hash256::format prints word 15 first), so their hex equals the reference's.
 * Images under 5 pixels on a side give 32 zero bytes and quality 0, as the reference does.
 * Returns 0 (it cannot fail once the scratch is given). */
int pm_pdq_hash(const uint8_t *rgb, size_t rows, size_t cols, float *scratch, uint8_t hash[PM_PDQ_BYTES],
                int *quality);

/* The 8 dihedral hashes derived from one DCT, in the reference's order: original, rotate90,
 * rotate180, rotate270, flipX, flipY, flipPlus1, flipMinus1. Like the reference, this path
 * blurs even a 64x64 image (pm_pdq_hash does not), so hashes[0] can differ from pm_pdq_hash
 * on exactly 64x64 inputs. */
int pm_pdq_dihedral(const uint8_t *rgb, size_t rows, size_t cols, float *scratch,
                    uint8_t hashes[PM_PDQ_DIHEDRAL][PM_PDQ_BYTES], int *quality);

/* The same two kernels on a C-contiguous rows x cols grey (luma) uint8 image, e.g. the Y plane
 * a JPEG decoder gives without colour conversion. Grey v is taken as the RGB pixel (v, v, v):
 * the hashes equal pm_pdq_hash / pm_pdq_dihedral of the RGB image whose channels all equal
 * `gray`, bit for bit. Same scratch size as for RGB. */
int pm_pdq_hash_gray(const uint8_t *gray, size_t rows, size_t cols, float *scratch, uint8_t hash[PM_PDQ_BYTES],
                     int *quality);
int pm_pdq_dihedral_gray(const uint8_t *gray, size_t rows, size_t cols, float *scratch,
                         uint8_t hashes[PM_PDQ_DIHEDRAL][PM_PDQ_BYTES], int *quality);

#endif
