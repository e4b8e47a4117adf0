/* UTF-8 validation shared by the writers of JSON, XML and HTML text. */
#ifndef PW_CORE_UTF8_H
#define PW_CORE_UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence at s, which has len bytes; 0 when the bytes are
 * not one: a stray continuation byte, a truncated or overlong sequence, a surrogate, or a code
 * point above U+10FFFF. */
size_t pw__utf8_len(const unsigned char *s, size_t len);

#endif
