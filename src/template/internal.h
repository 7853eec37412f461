/*
 * internal.h - the compiled form of templates, shared by the files of
 * src/template/ and by nobody else (other modules use template.h).
 *
 * A template compiles to a flat array of ops in document order.  An op that
 * has children (section, inverted section, block, parent reference) stores
 * in `end` the index just past its last child; a leaf has end = index + 1.
 * The array is therefore a tree that rendering walks with index arithmetic
 * alone: children of ops[i] are ops[i + 1 .. ops[i].end), its next sibling
 * is ops[ops[i].end].
 *
 * Everything a set compiles lives in the set's arena and dies with it.
 * Until tpl_set_link succeeds the ops are written to (references resolved,
 * block ids assigned); afterwards nothing in the set changes, which is what
 * makes concurrent rendering safe.
 */
#ifndef KR_TEMPLATE_INTERNAL_H
#define KR_TEMPLATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "template/template.h"

/* Limits promised by template.h. */
#define TPL_SOURCE_MAX ((size_t)1 << 20) /* bytes of one template source */
#define TPL_NESTING_MAX 64               /* open sections/blocks/parents */
#define TPL_RECURSION_MAX 32             /* partials and parents, at render */

/* Limits of rendering that template.h does not name.  Each is far beyond a
 * sane page and exists so that a broken template cannot exhaust the C stack
 * (frames: one per nested section, block, partial or parent, about 180
 * bytes each at -O2, so at most ~90 KiB), or spin for minutes (steps: ops
 * visited, section iterations and override scans; 2^24 is about 100 ms of
 * work).  Running into one is KR_ERR_INVALID (frames, contexts) or
 * KR_ERR_TOO_LARGE (steps). */
#define TPL_FRAMES_MAX 512
#define TPL_CONTEXT_MAX 256
#define TPL_STEPS_MAX ((uint64_t)1 << 24)

enum tpl_op_kind {
    TPL_OP_TEXT,     /* literal text, appended as is */
    TPL_OP_ESCAPED,  /* {{name}} in an HTML template */
    TPL_OP_RAW,      /* {{{name}}}, {{&name}}, or {{name}} in a .txt template */
    TPL_OP_SECTION,  /* {{#name}} */
    TPL_OP_INVERTED, /* {{^name}} */
    TPL_OP_PARTIAL,  /* {{> name}} */
    TPL_OP_PARENT,   /* {{< name}}: children are the overriding blocks */
    TPL_OP_BLOCK,    /* {{$name}}: children are the default (or override) */
    TPL_OP_MESSAGE,  /* {{t:key}} */
};

/* One part of a dotted name: NUL-terminated for jansson, with its length so
 * that lookups need no strlen. */
struct tpl_key {
    const char *s;
    size_t len;
};

/* A dotted name split at compile time; count 0 means "." (the current
 * value). */
struct tpl_path {
    const struct tpl_key *parts;
    uint32_t count;
};

struct tpl;

struct tpl_op {
    uint8_t kind;     /* enum tpl_op_kind */
    bool html;        /* TPL_OP_MESSAGE: use the message's escaping form */
    uint32_t line;    /* line of the tag in the source, for errors */
    uint32_t end;     /* index just past the last child */
    const char *name; /* the tag's name as written (NUL-terminated), or NULL */
    union {
        struct {
            const char *s;
            size_t len;
        } text;                   /* TPL_OP_TEXT */
        struct tpl_path path;     /* ESCAPED, RAW, SECTION, INVERTED */
        const struct tpl *target; /* PARTIAL, PARENT (set by link) */
        uint32_t block_id;        /* BLOCK: equal names, equal ids (link) */
        uint32_t message;         /* MESSAGE: index into a catalogue (link) */
    } u;
};

struct tpl {
    const char *name;  /* "pages/home" */
    const char *label; /* for errors: the name or the file path */
    struct tpl_op *ops;
    uint32_t count;
    bool html; /* escape {{name}} */
};

/* One catalogue entry, compiled twice: once for templates that escape and
 * once for .txt templates, so that rendering never decides per byte. */
struct tpl_message {
    const char *key;
    const char *text; /* the catalogue text as written (tpl_message) */
    struct tpl plain;
    struct tpl html;
};

struct tpl_catalogue {
    const char *lang;             /* "de" */
    const char *label;            /* for errors: the language or the file path */
    struct tpl_message *messages; /* sorted by key */
    size_t count;
};

struct tpl_set {
    struct arena *arena;    /* owns everything compiled */
    struct tpl **templates; /* malloc'd, sorted by name */
    size_t count, cap;
    struct tpl_catalogue **catalogues; /* malloc'd, in order of adding */
    size_t catalogue_count, catalogue_cap;
    size_t default_lang; /* index into catalogues */
    bool linked;
};

/*
 * Compile src[0..len) into t, whose name, label and html the caller has set.
 * message_key is NULL for a template; for a catalogue entry it names the key
 * (errors read "LABEL: message 'KEY', line N: ...") and partials, parents,
 * blocks and messages are refused, so that messages cannot recurse.  Memory
 * comes from arena.  KR_ERR_INVALID (syntax, with line), KR_ERR_TOO_LARGE
 * (source over TPL_SOURCE_MAX) or KR_ERR_NOMEM.
 */
int tpl_compile(struct arena *arena, struct tpl *t, const char *src, size_t len,
                const char *message_key, struct kr_error *err) KR_MUST_CHECK;

/* True if s[0..len) is a valid template name: segments of letters, digits,
 * '_', '-' and '.' separated by '/', none empty, "." or "..". */
bool tpl_name_valid(const char *s, size_t len);

/* tpl_set_add and tpl_set_add_messages with the label used in errors (the
 * file path when loading from disk). */
int tpl_set_add_labeled(struct tpl_set *set, const char *name, const char *label, const char *src,
                        size_t len, bool html, struct kr_error *err) KR_MUST_CHECK;
int tpl_set_add_catalogue(struct tpl_set *set, const char *lang, const char *label,
                          const json_t *messages, struct kr_error *err) KR_MUST_CHECK;

/* The template called name, or NULL. */
const struct tpl *tpl_set_find(const struct tpl_set *set, const char *name);

/* The catalogue of lang, or NULL. */
const struct tpl_catalogue *tpl_set_catalogue(const struct tpl_set *set, const char *lang);

/* Grow a malloc'd array so that it holds at least need elements of size
 * bytes.  Returns the (possibly moved) array, or NULL on OOM, when the old
 * array and *cap are unchanged.  Honours the KR_FAULT_ALLOC fault hook. */
void *tpl_grow(void *items, size_t *cap, size_t need, size_t size);

#endif
