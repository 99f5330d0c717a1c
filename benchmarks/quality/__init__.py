"""Quality benchmark: does a system find altered copies of reported photos, without false matches?

Run from the repository root::

    python -m benchmarks.quality --images ../shared/data/photos-dev --out /tmp/quality \\
        [--reported 150] [--seed 0] [--systems pdqhash,imagehash-phash,...] [--alterations crop_70,...] \\
        [--limit-reported N] [--limit-distractors N] [--workers 2] [--sample-slow 25]

and look at the alterations of one photo with
``python -m benchmarks.quality.alterations --show PHOTO --out DIR`` (writes ``DIR/contact_sheet.png``).

What it does
------------
1. Lists the photos under ``--images`` (recursively; .jpg .jpeg .png .webp .bmp .tif .tiff .heic
   .heif .gif), sorted by relative path, which is each photo's id. A permutation seeded with
   ``--seed`` picks ``--reported`` of them as *reported*; the rest are *distractors*.
   ``--limit-reported/--limit-distractors N`` keep the first N (by id) of each side, after the
   split, for quick runs (the index then holds only the kept reported photos).
2. Makes altered copies of every kept photo, reported and distractor alike, each alteration
   seeded by (photo id, alteration, seed) so reruns give identical pixels. Copies are saved as
   JPEG quality 95 at their natural size (the JPEG alterations at their own quality) under
   ``OUT/cache/<images-folder tag>-v<alterations version>-seed<seed>/alterations/`` and reused.
   Photos are decoded with their EXIF orientation applied, as a viewer shows them.
3. For each system, builds an index from the ORIGINAL reported photos and queries every copy
   (the copy decoded to an RGB ``PIL.Image``).
4. Writes ``OUT/results.json``, ``OUT/results.md`` (recall table: rows = alterations, columns =
   systems; then false matches and speed; then false-match rate per alteration),
   ``OUT/recall.png`` (grouped bars) and ``OUT/queries.jsonl`` (every answer, owner-only).

The alterations (``alterations.ALTERATIONS``)
--------------------------------------------
- ``original``: the photo file itself, unaltered (sanity row; excluded from the mean recall).
- ``resize_0.5``, ``resize_0.25``: both sides scaled by 1/2, 1/4 (Pillow LANCZOS);
  ``resize_1.5``: by 1.5 (BICUBIC).
- ``jpeg_q30``, ``jpeg_q70``: re-encoded with Pillow at quality 30 / 70 (4:2:0 subsampling).
- ``crop_90``, ``crop_70``, ``crop_50``: a window keeping 90/70/50 % of the AREA (each side times
  sqrt(area), aspect kept) at a uniformly random offset.
- ``stretch_w1.3``: width times 1.3, height unchanged (BICUBIC).
- ``rotate_5``: rotated 5 degrees counter-clockwise (BICUBIC), canvas EXPANDED to hold the whole
  photo, the four corner triangles black (no photo pixel lost).
- ``rotate_90``: rotated 90 degrees counter-clockwise (lossless transpose).
- ``flip_h``: mirrored left-right.
- ``grey``: converted to 8-bit greyscale (Pillow "L", ITU-R 601-2 luma), saved as grey JPEG.
- ``blur_r2``: Gaussian blur of radius 2 px (Pillow GaussianBlur; fixed in pixels, so stronger
  on small photos).
- ``bright_contrast``: brightness times 1.2, then contrast times 1.2 (Pillow ImageEnhance).
- ``text``: meme captions: two lines of 3-5 random words in capitals, white with a black outline,
  Pillow's default font at 1/11 of the long side (shrunk to fit 92 % of the width), over the top
  and bottom of the photo.
- ``border``: letterbox: the photo unchanged, centred on a plain canvas (black, white or a random
  colour) of another aspect ratio: landscape photos on a 1:1, 4:5 or 9:16 canvas, portrait ones on
  a 1:1, 4:3 or 16:9 canvas, with at least 20 % padding on the padded axis.
- ``screenshot``: a phone screenshot of a social-media post: a 1080x2340 canvas scaled by a random
  0.45-0.75, light or dark theme, status bar (clock, battery), coloured app header with a name,
  avatar circle, user name and handle, 1-3 caption lines, the photo at a random width (55-100 %
  of the screen, aspect kept, at most 60 % of the height) at a random horizontal and vertical
  position, like/comment icons and comment lines below, a navigation bar at the bottom.
- ``collage``: a 2x2 grid with white gutters: cells the size of the photo scaled to at most 640 px
  on its long side; the photo whole in a random cell, the three other cells filled (centre-cropped)
  with three distractors chosen by a seeded draw. A distractor's collage uses three OTHER
  distractors, so a distractor copy never contains a reported photo.
- ``sticker``: 1-3 emoji-like stickers (opaque flat discs with eyes and a smile) over 8-12 % of
  the picture.
- ``meme``: the meme layout: the photo cropped to 90 % of its area (random window, as
  ``crop_90``), white caption bands of 12-20 % of its height above and below with black text.
- ``profile``: a social-media profile page on a 1080x2340 screen (light or dark): status bar and
  header, the photo's centre square as the round avatar (250-400 px across, centred or at the
  left, half of the time inside a coloured story ring), name, counts, bio lines, rounded buttons,
  then a grid of other photos' centre squares, three to a row with 2-5 px gaps, down to the
  navigation bar.
- ``grid``: a profile's photo grid on a 1080x2340 screen: a small profile strip, then square
  centre crops three or four to a row, 1-6 px gaps of the background or a random colour, tiles
  touching the screen's sides; the photo in a random fully visible tile.
- ``profile_fwd``, ``grid_fwd``: the same screenshots (same seed, same pixels) forwarded by a
  messaging app: scaled to 1280 px on the long side (BICUBIC) and saved as JPEG quality 85.
  Profile pages and grids take their other photos (18 and 27, cycled if fewer) from a seeded
  draw of distractors separate from the collages' (so those did not change).

What counts
-----------
- A query's answer is the list of reported ids a system returns for it.
- **Recall** (per alteration): the share of copies of reported photos whose answer contains the
  RIGHT reported id (other ids in the answer do not cancel the hit; they are counted as ``wrong``
  in results.json).
- **False-match rate (FMR)**: the share of distractor-copy queries whose answer is not empty. It is
  given per alteration and over all alterations together (``overall.fmr``).
- **queries/s**: queries answered per second on one core, from a decoded image to the answer (the
  peers' hashing is timed in the worker processes, so it is measured while ``--workers`` processes
  share the machine; decoding the copy is not counted for any system).

Systems (``systems.py``)
------------------------
``photomatch-robust`` / ``photomatch-fast`` (``photomatch.Matcher(store).add([path], label=id)``,
``match(image, mode=...)``, the library's defaults; reported *unavailable* with the reason while
the Matcher lacks ``mode=`` or raises), ``photomatch-robust-hashes`` (the robust mode on a store
holding nothing but each reported photo's reference PDQ hash from ``pdqhash.compute``, imported
with ``Matcher.add_hashes``: what a StopNCII-style partner would get from a shared list),
``photomatch-robust-regionhashes`` (the robust mode on a store photomatch built from the
reported photos without features: its own region hashes of each, as ``photomatch hash
--regions`` lists them for a partner), ``pdqhash`` (PDQ via ``pdqhash.compute`` on the full-size
image, Hamming <= 31, brute force), ``pdqhash-dihedral`` (the query's 8 dihedral PDQ hashes,
any <= 31), ``imagehash-phash`` (<= 10) and ``imagehash-crop-resistant``
(``crop_resistant_hash`` with dhash segments; a match is ``ImageMultiHash.matches`` with its
defaults: at least one segment pair within 16 bits). Crop-resistant hashing takes ~0.5 s per
photo, so by default it runs on the copies of 20 reported and 20 distractor photos only (a
seeded draw, the same photos for every alteration; ``--sample-slow``; 0 skips it, -1 runs all); the tables mark it with ``n=``.
Peers whose package is not installed are reported unavailable; the rest run.

Caching: peer hashes of copies and of reported photos are kept per system in
``OUT/cache/.../hashes/<system>.pkl`` (owner-only, 0600: they include hashes of reported photos),
so a rerun only hashes what is new. photomatch stores are rebuilt on every run.
"""
