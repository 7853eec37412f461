/*
 * fuzz_mail.c - libFuzzer target for the mail module's handling of outside
 * text: the address check (registration forms feed it) and the encoders
 * that put subjects, names and file names into headers.
 *
 * The first byte chooses the function, the rest is its input.  Besides
 * not crashing, the promises are checked: an accepted address is printable
 * ASCII with one '@'; encoded header text is ASCII whose only line breaks
 * are folds (CRLF SPACE), so that no input can add a header line; the
 * line-end normaliser leaves no bare CR or LF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/text.h"
#include "mail/mail_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Printable ASCII; CR only as part of CRLF SPACE. */
static void check_header(const struct buf *b)
{
    const char *s = b->data ? b->data : "";
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r') {
            if (i + 2 >= b->len || s[i + 1] != '\n' || s[i + 2] != ' ')
                abort();
            i += 2;
        } else if (c < 0x20 || c > 0x7E) {
            abort();
        }
    }
}

/* What mail_enqueue lets through to the encoders. */
static bool header_input(const char *s, size_t len)
{
    if (len == 0 || strlen(s) != len || !text_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return false;
    return true;
}

static void check_crlf(const struct buf *b)
{
    const char *s = b->data ? b->data : "";
    for (size_t i = 0; i < b->len; i++) {
        if (s[i] == '\r' && (i + 1 >= b->len || s[i + 1] != '\n'))
            abort();
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    struct arena *a = arena_new(1024 * 1024);
    char *in = a ? arena_strndup(a, (const char *)data + 1, size - 1) : NULL;
    size_t len = size - 1;
    struct buf out;
    buf_init(&out, 64 * 1024);
    if (in) {
        switch (data[0] % 4) {
        case 0:
            if (mail_address_check(in, NULL) == KR_OK) {
                /* A C string: the check sees what comes before a NUL. */
                size_t slen = strlen(in);
                if (slen == 0 || !strchr(in, '@') || strchr(in, '@') != strrchr(in, '@'))
                    abort();
                for (size_t i = 0; i < slen; i++)
                    if (in[i] <= 0x20 || in[i] > 0x7E)
                        abort();
            }
            break;
        case 1:
            if (header_input(in, len)) {
                mail_encode_header_text(&out, in);
                check_header(&out);
            }
            break;
        case 2:
            if (header_input(in, len)) {
                mail_encode_disposition(&out, in);
                check_header(&out);
            }
            break;
        default:
            mail_crlf(&out, in);
            check_crlf(&out);
            break;
        }
    }
    buf_release(&out);
    arena_free(a);
    return 0;
}
