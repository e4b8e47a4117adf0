/* Text for a terminal: how many columns it takes, and step output made safe to show there. */
#include <stdint.h>
#include <string.h>

#include "cli/cli.h"
#include "core/utf8.h"

/* The code point of the UTF-8 sequence of len (1..4) bytes at s. */
static uint32_t code_point(const unsigned char *s, size_t len)
{
	if (len == 1)
		return s[0];
	uint32_t cp = s[0] & (0x7f >> len);
	for (size_t k = 1; k < len; k++)
		cp = cp << 6 | (s[k] & 0x3f);
	return cp;
}

/* Columns a code point takes in a terminal: 0 for combining marks and zero-width characters,
 * 2 for East Asian wide and full-width characters and emoji, else 1 (the usual wcwidth,
 * without depending on the process's locale). */
static int cp_cols(uint32_t cp)
{
	static const uint32_t zero[][2] = {
	    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A}, {0x064B, 0x065F},
	    {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200F}, {0x2028, 0x202E}, {0x2060, 0x206F},
	    {0x20D0, 0x20FF}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF},
	};
	static const uint32_t wide[][2] = {
	    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
	    {0x23F0, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},   {0x2648, 0x2653},
	    {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x26F2, 0x26F5},
	    {0x2705, 0x2705},   {0x270A, 0x270B},   {0x274C, 0x274C},   {0x2753, 0x2755},
	    {0x2795, 0x2797},   {0x2B1B, 0x2B1C},   {0x2E80, 0x303E},   {0x3041, 0x33FF},
	    {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xA960, 0xA97F},
	    {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},   {0xFE30, 0xFE6F},
	    {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4}, {0x17000, 0x18AFF},
	    {0x1B000, 0x1B2FF}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E},
	    {0x1F191, 0x1F19A}, {0x1F200, 0x1F251}, {0x1F300, 0x1F64F}, {0x1F680, 0x1F6FF},
	    {0x1F7E0, 0x1F7EB}, {0x1F90C, 0x1F9FF}, {0x1FA70, 0x1FAFF}, {0x20000, 0x3FFFD},
	};
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		if (cp >= zero[i][0] && cp <= zero[i][1])
			return 0;
	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++)
		if (cp >= wide[i][0] && cp <= wide[i][1])
			return 2;
	return 1;
}

size_t cli_next_char(const char *s, size_t len, int *cols)
{
	size_t n = pw__utf8_len((const unsigned char *)s, len);
	if (!n) { /* not UTF-8: one byte, shown as one replacement column */
		*cols = 1;
		return 1;
	}
	uint32_t cp = code_point((const unsigned char *)s, n);
	*cols = cp < 0x20 || (cp >= 0x7F && cp < 0xA0) ? 0 : cp_cols(cp);
	return n;
}

int cli_text_cols(const char *s, size_t len)
{
	int total = 0;
	for (size_t i = 0; i < len;) {
		int c;
		i += cli_next_char(s + i, len - i, &c);
		total += c;
	}
	return total;
}

size_t cli_tty_clean(char *dst, const char *src, size_t len, int keep_colour)
{
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)src[i];
		if (c == '\033' && i + 1 < len && src[i + 1] == '[') {
			/* CSI: parameters and intermediates, then a final byte; only SGR (colour) stays */
			size_t j = i + 2;
			while (j < len && !((unsigned char)src[j] >= 0x40 && (unsigned char)src[j] <= 0x7E))
				j++;
			if (j < len && src[j] == 'm' && keep_colour) {
				memmove(dst + o, src + i, j + 1 - i);
				o += j + 1 - i;
			}
			i = j < len ? j + 1 : len;
		} else if (c == '\033' && i + 1 < len &&
		           (src[i + 1] == ']' || src[i + 1] == 'P' || src[i + 1] == '_' ||
		            src[i + 1] == '^')) {
			/* OSC (titles, links, clipboard), DCS, APC, PM: up to BEL or ESC \ */
			size_t j = i + 2;
			while (j < len && src[j] != '\007' &&
			       !(src[j] == '\033' && j + 1 < len && src[j + 1] == '\\'))
				j++;
			i = j >= len ? len : src[j] == '\007' ? j + 1 : j + 2;
		} else if (c == '\033') {
			i += i + 1 < len ? 2 : 1; /* ESC and one character: cursor and mode controls */
		} else if (c == '\r') {
			/* back to the line's start would write over the step's prefix: a CR ending a
			 * line is dropped, any other starts a new (prefixed) line */
			if (i + 1 < len && src[i + 1] != '\n')
				dst[o++] = '\n';
			i++;
		} else if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F) {
			i++; /* bell, backspace and other controls */
		} else if (c == 0xC2 && i + 1 < len && (unsigned char)src[i + 1] >= 0x80 &&
		           (unsigned char)src[i + 1] <= 0x9F) {
			i += 2; /* C1 controls (U+0080..U+009F), CSI among them */
		} else {
			dst[o++] = (char)c;
			i++;
		}
	}
	return o;
}
