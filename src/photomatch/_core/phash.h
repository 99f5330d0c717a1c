/* pHash (64 bits) compatible with imagehash.phash (imagehash 4.3): DCT-II of the 32x32 greyscale
 * image along axis 0 then axis 1 (scipy.fftpack.dct type 2, unnormalised), the top-left 8x8
 * including DC, bit = coefficient > median of the 64 (mean of the two middle values).
 * Plain C11 on raw buffers. */
#ifndef PHOTOMATCH_PHASH_H
#define PHOTOMATCH_PHASH_H

#include <stdint.h>

#define PM_PHASH_SIDE 32
#define PM_PHASH_BYTES 8

/* gray: 32x32 uint8, row-major (what imagehash gets after convert("L").resize((32, 32), LANCZOS)).
 * out: the 64 bits row-major, most significant bit first, so their hex equals str(imagehash.phash(img)). */
void pm_phash_bits(const uint8_t gray[PM_PHASH_SIDE * PM_PHASH_SIDE], uint8_t out[PM_PHASH_BYTES]);

#endif
