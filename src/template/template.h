/*
 * template.h - Mustache-style templates with HTML auto-escaping, layouts,
 * partials and a message catalogue per language.
 *
 * Templates are loaded and compiled once at start into a struct tpl_set that
 * the server owns until shutdown; rendering only reads the set, so any
 * number of threads may render at once.  The data a template sees is a
 * jansson value (usually an object) built by the handler.
 *
 * Syntax (the Mustache subset plus inheritance and messages):
 *
 *   {{name}}            value, HTML-escaped (& < > " ' become entities)
 *   {{a.b.c}}           dotted lookup; the first part is searched from the
 *                       innermost section outwards, the rest descends
 *   {{.}}               the current value (inside a list section)
 *   {{{name}}} {{&name}} value without escaping: only for HTML that Kreisel
 *                       made itself, never for outside input
 *   {{#name}}..{{/name}} section: rendered once per array element, once with
 *                       an object or scalar pushed as the current value, or
 *                       not at all when the value is falsy
 *   {{^name}}..{{/name}} inverted section: rendered when name is falsy
 *   {{! comment}}       dropped
 *   {{> partial}}       another template of the set, rendered with the
 *                       current context (names as below, "partials/header")
 *   {{< parent}} {{$block}}..{{/block}} {{/parent}}
 *                       inheritance: render template parent, replacing its
 *                       {{$block}}default{{/block}} blocks with the ones
 *                       given here (the most derived template wins)
 *   {{t:key}}           the message "key" of the render language, escaped;
 *                       a message may itself contain {{name}} tags, which see
 *                       the current context
 *
 * Falsy values: missing names, null, false, 0, "" and [].  Numbers render in
 * decimal, true as "true", false/null/objects/arrays as nothing.
 *
 * Names of templates are their paths below the templates directory without
 * the extension: templates/pages/home.html is "pages/home".  Files ending
 * in .html escape for HTML; files ending in .txt (plain-text e-mails) do
 * not escape at all.
 *
 * Message catalogues are files LANG.json in the locales directory and in
 * its subfolders one level down (locales/<module>/LANG.json, so that each
 * module owns its messages), each a flat JSON object "key": "text"; the
 * files of one language are merged and a key defined twice is an error.
 * All languages must have the same keys;
 * the first language is the default: "de" when present.  Every
 * {{t:key}}, {{> partial}} and {{< parent}} is checked when the set is
 * linked, so that a typo stops the start instead of showing up on a page.
 *
 * Limits: a template source of at most 1 MiB, sections nested at most 64
 * deep, partial/parent recursion at most 32 deep when rendering.
 */
#ifndef KR_TEMPLATE_TEMPLATE_H
#define KR_TEMPLATE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/error.h"

struct tpl_set;

/*
 * Load every *.html and *.txt file below templates_dir (recursively) and
 * every LANG.json in locales_dir (LANG is two to three lower-case letters),
 * compile and link them.  *out is owned by the caller (tpl_set_free).
 * Errors name the file and line: "templates/pages/home.html:12: unclosed
 * section 'items'" (KR_ERR_INVALID), or KR_ERR_IO when a file cannot be read.
 */
int tpl_set_load(struct tpl_set **out, const char *templates_dir, const char *locales_dir,
                 struct kr_error *err) KR_MUST_CHECK;

/* Build a set by hand (tests, fuzzing): new, add templates and catalogues,
 * then link before rendering. */
int tpl_set_new(struct tpl_set **out, struct kr_error *err) KR_MUST_CHECK;

/* Compile src[0..len) as template name; html selects HTML escaping.  The
 * set copies what it needs.  KR_ERR_INVALID with line number on a syntax
 * error, KR_ERR_CONFLICT when name already exists. */
int tpl_set_add(struct tpl_set *set, const char *name, const char *src, size_t len, bool html,
                struct kr_error *err) KR_MUST_CHECK;

/* Add the catalogue of lang from a JSON object of strings (not stolen). */
int tpl_set_add_messages(struct tpl_set *set, const char *lang, const json_t *messages,
                         struct kr_error *err) KR_MUST_CHECK;

/* Resolve partials, parents and message keys and check the catalogues
 * against each other.  Must succeed once before tpl_render. */
int tpl_set_link(struct tpl_set *set, struct kr_error *err) KR_MUST_CHECK;

/* Free the set and everything it compiled.  NULL is ok. */
void tpl_set_free(struct tpl_set *set);

/* True if the set has a template of that name. */
bool tpl_set_has(const struct tpl_set *set, const char *name);

/* True if lang has a catalogue. */
bool tpl_set_has_lang(const struct tpl_set *set, const char *lang);

/* The default language ("de" when present, else the first loaded). */
const char *tpl_default_lang(const struct tpl_set *set);

/*
 * Render template name for lang with ctx (any JSON value; NULL is an empty
 * object) and append the text to out.  Errors: KR_ERR_NOT_FOUND (no such
 * template or language), KR_ERR_TOO_LARGE (out's cap), KR_ERR_INVALID
 * (recursion too deep).  On error, out may hold part of the text.
 */
int tpl_render(const struct tpl_set *set, const char *name, const char *lang, const json_t *ctx,
               struct buf *out, struct kr_error *err) KR_MUST_CHECK;

/*
 * The text of message key in lang, as written in the catalogue (not
 * escaped, tags not expanded), for code that needs a message outside a
 * template (problem+json titles).  Returns key itself when it is unknown,
 * so that a missing message shows up visibly rather than as a crash.
 */
const char *tpl_message(const struct tpl_set *set, const char *lang, const char *key);

/*
 * Choose the language for an Accept-Language header value (RFC 9110
 * section 12.5.4: ranges with q-values, "de-DE" matches "de", "*" matches
 * the default, q=0 excludes).  Returns one of the set's languages (a string
 * the set owns); the default when header is NULL, empty, malformed or
 * matches nothing.
 */
const char *tpl_negotiate_lang(const struct tpl_set *set, const char *accept_language);

/* Append s[0..len) HTML-escaped to out (the escaping {{name}} uses). */
int tpl_escape_html(struct buf *out, const char *s, size_t len);

#endif
