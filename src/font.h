/* The built-in bitmap font of canvas.c: printable ASCII 32..126, each glyph
 * 5 columns by 9 rows ('#' = ink): rows 0-6 sit on the baseline (capitals
 * are 7 tall), rows 7-8 hold descenders.  Private to the engine. */
#ifndef HEADCAL_FONT_H
#define HEADCAL_FONT_H

enum {
    HC_GLYPH_W = 5,
    HC_GLYPH_H = 9,
    HC_GLYPH_ASCENT = 7,
    HC_GLYPH_ADVANCE = 6,
    HC_GLYPH_FIRST = 32,
    HC_GLYPH_LAST = 126
};

extern const char hc_font[HC_GLYPH_LAST - HC_GLYPH_FIRST + 1][HC_GLYPH_H][HC_GLYPH_W + 1];

#endif
