/* Tests of src/template/: compiling, linking, rendering, loading, and
 * choosing a language.  Most tests are tables: template(s), context,
 * expected output or expected error code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fault.h"
#include "template/template.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define OUT_MAX ((size_t)1 << 20)

/* A template to add: name, source, and whether it is a .txt template. */
struct src {
    const char *name;
    const char *text;
    bool txt;
};

/* One rendering case: the template "main", its context (JSON text, NULL
 * for none), and the expected output or error code. */
struct row {
    const char *main;
    const char *ctx;
    const char *out;
    int rc;
};

static const char *const de_json =
    "{\"hello\": \"Hallo\", \"welcome\": \"Willkommen, {{name}}!\","
    " \"amp\": \"M\xC3\xBCller & S\xC3\xB6hne\","
    " \"quote\": \"Sag \\\"Hallo\\\" & 'Tsch\xC3\xBC\xC3\x9F'\","
    " \"hits\": \"{{#n}}{{n}} Treffer{{/n}}{{^n}}Keine Treffer{{/n}}\"}";
static const char *const en_json = "{\"hello\": \"Hello\", \"welcome\": \"Welcome, {{name}}!\","
                                   " \"amp\": \"Smith & Sons\", \"quote\": \"Say \\\"hi\\\"\","
                                   " \"hits\": \"{{#n}}{{n}} hits{{/n}}{{^n}}No hits{{/n}}\"}";

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!j)
        fail_msg("bad test JSON '%s': %s", text, jerr.text);
    return j;
}

static void add_catalogue(struct tpl_set *set, const char *lang, const char *text)
{
    struct kr_error err;
    json_t *j = parse(text);
    int rc = tpl_set_add_messages(set, lang, j, &err);
    json_decref(j);
    if (rc)
        fail_msg("catalogue %s: %s", lang, err.message);
}

/* A linked set of srcs (NULL-terminated by name) plus "main" and the two
 * catalogues; fails the test when anything does not compile or link. */
static struct tpl_set *build(const struct src *srcs, const char *main, bool main_txt)
{
    struct tpl_set *set;
    struct kr_error err;
    assert_int_equal(tpl_set_new(&set, &err), KR_OK);
    for (const struct src *s = srcs; s && s->name; s++)
        if (tpl_set_add(set, s->name, s->text, strlen(s->text), !s->txt, &err))
            fail_msg("%s: %s", s->name, err.message);
    if (main && tpl_set_add(set, "main", main, strlen(main), !main_txt, &err))
        fail_msg("main '%s': %s", main, err.message);
    add_catalogue(set, "de", de_json);
    add_catalogue(set, "en", en_json);
    if (tpl_set_link(set, &err))
        fail_msg("link: %s", err.message);
    return set;
}

static void check_rows(const struct src *srcs, bool txt, const char *lang, const struct row *rows,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct tpl_set *set = build(srcs, rows[i].main, txt);
        json_t *ctx = rows[i].ctx ? parse(rows[i].ctx) : NULL;
        struct buf out;
        struct kr_error err;
        buf_init(&out, OUT_MAX);
        kr_error_clear(&err);
        int rc = tpl_render(set, "main", lang, ctx, &out, &err);
        if (rc != rows[i].rc)
            fail_msg("row %zu '%s': rc %d, expected %d (%s)", i, rows[i].main, rc, rows[i].rc,
                     err.message);
        if (rc == KR_OK && strcmp(buf_cstr(&out), rows[i].out) != 0)
            fail_msg("row %zu '%s':\n got '%s'\nwant '%s'", i, rows[i].main, buf_cstr(&out),
                     rows[i].out);
        if (rc != KR_OK)
            assert_int_equal(err.code, rc);
        buf_release(&out);
        json_decref(ctx);
        tpl_set_free(set);
    }
}

static void test_interpolation(void **state)
{
    (void)state;
    static const struct row rows[] = {
        {"{{s}}", "{\"s\": \"Kreis\"}", "Kreis", KR_OK},
        {"<{{i}}>", "{\"i\": 42}", "<42>", KR_OK},
        {"{{i}}", "{\"i\": 0}", "0", KR_OK},
        {"{{i}}", "{\"i\": -9223372036854775808}", "-9223372036854775808", KR_OK},
        {"{{i}}", "{\"i\": 9223372036854775807}", "9223372036854775807", KR_OK},
        {"{{r}}", "{\"r\": 0.5}", "0.5", KR_OK},
        {"{{r}}", "{\"r\": 0.1}", "0.1", KR_OK},
        {"{{r}}", "{\"r\": -2.25}", "-2.25", KR_OK},
        {"{{r}}", "{\"r\": 3.0}", "3", KR_OK},
        {"{{r}}", "{\"r\": 1e21}", "1e+21", KR_OK},
        {"{{r}}", "{\"r\": 0.30000000000000004}", "0.30000000000000004", KR_OK},
        {"[{{t}}|{{f}}|{{n}}|{{m}}]", "{\"t\": true, \"f\": false, \"n\": null}", "[true|||]",
         KR_OK},
        {"[{{o}}|{{a}}]", "{\"o\": {\"x\": 1}, \"a\": [1, 2]}", "[|]", KR_OK},
        /* all five characters, and text around them */
        {"{{s}}", "{\"s\": \"<a href=\\\"x\\\">'&'</a>\"}",
         "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;", KR_OK},
        {"{{s}}", "{\"s\": \"&&\"}", "&amp;&amp;", KR_OK},
        {"{{s}}", "{\"s\": \"<script>alert(1)</script>\"}", "&lt;script&gt;alert(1)&lt;/script&gt;",
         KR_OK},
        {"{{s}}", "{\"s\": \"&amp;\"}", "&amp;amp;", KR_OK}, /* no double-decoding */
        /* raw forms do not escape */
        {"{{{s}}}|{{&s}}|{{& s }}|{{{ s }}}", "{\"s\": \"<b>&'\"}", "<b>&'|<b>&'|<b>&'|<b>&'",
         KR_OK},
        /* template text is never escaped; UTF-8 passes through */
        {"<p class=\"x\">&nbsp;'</p>", NULL, "<p class=\"x\">&nbsp;'</p>", KR_OK},
        {"Gr\xC3\xBC\xC3\x9F"
         "e {{s}}",
         "{\"s\": \"M\xC3\xBCller\"}",
         "Gr\xC3\xBC\xC3\x9F"
         "e M\xC3\xBCller",
         KR_OK},
        {"{{ s }}|{{\ts\n}}", "{\"s\": \"v\"}", "v|v", KR_OK},
        {"a}}b}", NULL, "a}}b}", KR_OK},
        {"{ {x}} {", "{\"x\": 1}", "{ {x}} {", KR_OK},
        {"{ {{x}} {", "{\"x\": 1}", "{ 1 {", KR_OK},
        /* dotted names */
        {"{{a.b.c}}", "{\"a\": {\"b\": {\"c\": \"deep\"}}}", "deep", KR_OK},
        {"[{{a.x.c}}]", "{\"a\": {\"b\": {\"c\": \"deep\"}}}", "[]", KR_OK},
        {"[{{a.b.c}}]", "{\"a\": {\"b\": \"str\"}}", "[]", KR_OK},
        {"[{{a.b}}]", "{\"a\": [1]}", "[]", KR_OK},
        {"{{a-b.c_d}}", "{\"a-b\": {\"c_d\": 5}}", "5", KR_OK},
        /* context stack: inner shadows outer, first part falls back */
        {"{{#in}}{{name}}{{/in}}", "{\"name\": \"outer\", \"in\": {\"name\": \"inner\"}}", "inner",
         KR_OK},
        {"{{#in}}{{other}}{{/in}}", "{\"other\": \"o\", \"in\": {\"name\": \"i\"}}", "o", KR_OK},
        {"{{#in}}[{{name}}]{{/in}}", "{\"name\": \"outer\", \"in\": {\"name\": null}}", "[]",
         KR_OK},
        /* a dotted name does not fall back midway */
        {"{{#in}}[{{a.b}}]{{/in}}", "{\"a\": {\"b\": \"outer\"}, \"in\": {\"a\": {\"x\": 1}}}",
         "[]", KR_OK},
        {"{{#in}}[{{a.b}}]{{/in}}", "{\"a\": {\"b\": \"outer\"}, \"in\": {\"x\": 1}}", "[outer]",
         KR_OK},
        /* the current value */
        {"{{#l}}{{.}},{{/l}}", "{\"l\": [\"a\", \"<b>\", 3, true]}", "a,&lt;b&gt;,3,true,", KR_OK},
        {"{{#l}}{{{.}}}{{/l}}", "{\"l\": [\"a\", \"<b>\"]}", "a<b>", KR_OK},
        {"{{.}}", "\"<top>\"", "&lt;top&gt;", KR_OK},
        {"{{.}}", "17", "17", KR_OK},
        {"[{{.}}]", "{\"a\": 1}", "[]", KR_OK},
        {"[{{x}}|{{.}}]", NULL, "[|]", KR_OK},
        {"[{{x}}]", "[1, 2]", "[]", KR_OK},
    };
    check_rows(NULL, false, "de", rows, N(rows));
}

static void test_txt_does_not_escape(void **state)
{
    (void)state;
    static const struct row rows[] = {
        {"Hallo {{name}} & {{{name}}}", "{\"name\": \"<Eve> & 'Bob'\"}",
         "Hallo <Eve> & 'Bob' & <Eve> & 'Bob'", KR_OK},
        {"{{#l}}- {{.}}\n{{/l}}", "{\"l\": [\"a&b\", \"<c>\"]}", "- a&b\n- <c>\n", KR_OK},
        {"{{t:welcome}}\n{{t:amp}}", "{\"name\": \"<Eve>\"}",
         "Willkommen, <Eve>!\nM\xC3\xBCller & S\xC3\xB6hne", KR_OK},
    };
    check_rows(NULL, true, "de", rows, N(rows));
}

static void test_sections(void **state)
{
    (void)state;
    static const struct row rows[] = {
        {"{{#items}}<li>{{name}}</li>{{/items}}",
         "{\"items\": [{\"name\": \"a\"}, {\"name\": \"b\"}]}", "<li>a</li><li>b</li>", KR_OK},
        {"{{#o}}{{x}}{{/o}}", "{\"o\": {\"x\": \"y\"}}", "y", KR_OK},
        {"{{#o}}yes{{/o}}", "{\"o\": {}}", "yes", KR_OK},
        {"{{#t}}yes{{/t}}", "{\"t\": true}", "yes", KR_OK},
        {"{{#t}}[{{.}}]{{/t}}", "{\"t\": true}", "[true]", KR_OK},
        {"{{#s}}[{{.}}]{{/s}}", "{\"s\": \"x\"}", "[x]", KR_OK},
        {"{{#n}}[{{.}}]{{/n}}", "{\"n\": 7}", "[7]", KR_OK},
        {"{{#n}}[{{.}}]{{/n}}", "{\"n\": -0.5}", "[-0.5]", KR_OK},
        /* every falsy value, in a section and an inverted section */
        {"{{#v}}yes{{/v}}{{^v}}no{{/v}}", "{\"v\": false}", "no", KR_OK},
        {"{{#v}}yes{{/v}}{{^v}}no{{/v}}", "{\"v\": null}", "no", KR_OK},
        {"{{#v}}yes{{/v}}{{^v}}no{{/v}}", "{\"v\": 0}", "no", KR_OK},
        {"{{#v}}yes{{/v}}{{^v}}no{{/v}}", "{\"v\": 0.0}", "no", KR_OK},
        {"{{#v}}yes{{/v}}{{^v}}no{{/v}}", "{\"v\": \"\"}", "no", KR_OK},
        {"{{#v}}yes{{/v}}{{^v}}no{{/v}}", "{\"v\": []}", "no", KR_OK},
        {"{{#v}}yes{{/v}}{{^v}}no{{/v}}", "{}", "no", KR_OK},
        {"{{#v}}yes{{/v}}{{^v}}no{{/v}}", NULL, "no", KR_OK},
        {"{{#v}}yes{{/v}}{{^v}}no{{/v}}", "{\"v\": 1}", "yes", KR_OK},
        {"{{#v}}yes{{/v}}{{^v}}no{{/v}}", "{\"v\": \"0\"}", "yes", KR_OK},
        {"{{#v}}yes{{/v}}{{^v}}no{{/v}}", "{\"v\": [0]}", "yes", KR_OK},
        {"{{#v}}yes{{/v}}{{^v}}no{{/v}}", "{\"v\": {\"a\": null}}", "yes", KR_OK},
        /* nesting */
        {"{{#a}}{{#b}}{{x}}{{/b}}{{/a}}", "{\"a\": {\"b\": [{\"x\": 1}, {\"x\": 2}]}}", "12",
         KR_OK},
        {"{{#rows}}[{{#cells}}{{.}}{{/cells}}]{{/rows}}",
         "{\"rows\": [{\"cells\": [1, 2]}, {\"cells\": [3]}, {}]}", "[12][3][]", KR_OK},
        {"{{#a.b}}{{c}}{{/a.b}}", "{\"a\": {\"b\": {\"c\": \"x\"}}}", "x", KR_OK},
        {"{{#items}}{{name}}-{{title}};{{/items}}",
         "{\"title\": \"T\", \"items\": [{\"name\": \"a\"}, {\"name\": \"b\", \"title\": \"U\"}]}",
         "a-T;b-U;", KR_OK},
        {"{{#a}}{{^b}}no b{{/b}}{{/a}}", "{\"a\": [{\"b\": 1}, {}]}", "no b", KR_OK},
        {"{{^a}}{{^b}}none{{/b}}{{/a}}", "{}", "none", KR_OK},
        {"{{#a}}{{#a}}x{{/a}}{{/a}}", "{\"a\": [1, 2]}", "xxxx", KR_OK},
        /* comments */
        {"a{{! comment }}b", NULL, "ab", KR_OK},
        {"a{{!\n  several\n  lines\n}}b", NULL, "ab", KR_OK},
        {"a{{! {{x}} }}b", NULL, "a }}b", KR_OK},
        {"a{{!}}b", NULL, "ab", KR_OK},
        /* standalone lines disappear; other lines keep their whitespace */
        {"<ul>\n  {{#items}}\n  <li>{{.}}</li>\n  {{/items}}\n</ul>\n", "{\"items\": [1, 2]}",
         "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>\n", KR_OK},
        {"a\n{{! x }}\nb\n", NULL, "a\nb\n", KR_OK},
        {"a\n  {{! x }}", NULL, "a\n", KR_OK},
        {"a {{#t}}x{{/t}} b\n", "{\"t\": true}", "a x b\n", KR_OK},
        {"a\r\n{{#t}}\r\nx\r\n{{/t}}\r\n", "{\"t\": true}", "a\r\nx\r\n", KR_OK},
        {"{{x}}\n", "{\"x\": \"v\"}", "v\n", KR_OK},
        {"  {{x}}  \n", "{\"x\": \"v\"}", "  v  \n", KR_OK},
        {"{{#t}}\n{{/t}}", "{\"t\": true}", "", KR_OK},
        {"|\n{{#t}} {{/t}}\n|", "{\"t\": true}", "|\n \n|", KR_OK},
    };
    check_rows(NULL, false, "de", rows, N(rows));
}

static const struct src partials[] = {
    {"partials/item", "<li>{{name}}</li>", false},
    {"partials/header", "<h1>{{title}}</h1>\n", false},
    {"tree", "{{name}}{{#children}}({{>tree}}){{/children}}", false},
    {"loop", "x{{>loop}}", false},
    {"mail/line", "{{name}} & co", true},
    {NULL, NULL, false},
};

static void test_partials(void **state)
{
    (void)state;
    static const struct row rows[] = {
        {"{{#items}}{{>partials/item}}{{/items}}",
         "{\"items\": [{\"name\": \"a<\"}, {\"name\": \"b\"}]}", "<li>a&lt;</li><li>b</li>", KR_OK},
        {"{{> partials/item }}", "{\"name\": \"x\"}", "<li>x</li>", KR_OK},
        {"{{#p}}{{>partials/item}}{{/p}}", "{\"name\": \"outer\", \"p\": {}}", "<li>outer</li>",
         KR_OK},
        {"{{>tree}}",
         "{\"name\": \"r\", \"children\": [{\"name\": \"a\", \"children\": [{\"name\": \"b\","
         " \"children\": []}]}, {\"name\": \"c\", \"children\": null}]}",
         "r(a(b))(c)", KR_OK},
        /* a leaf without "children" sees its parent's: endless recursion */
        {"{{>tree}}", "{\"name\": \"r\", \"children\": [{\"name\": \"a\"}]}", NULL, KR_ERR_INVALID},
        {"<body>\n  {{>partials/header}}\n</body>", "{\"title\": \"T\"}",
         "<body>\n<h1>T</h1>\n</body>", KR_OK},
        /* each template escapes by its own kind */
        {"{{>mail/line}}|{{name}}", "{\"name\": \"<a>\"}", "<a> & co|&lt;a&gt;", KR_OK},
        {"{{>loop}}", NULL, NULL, KR_ERR_INVALID},
    };
    check_rows(partials, false, "de", rows, N(rows));
}

/* A chain of n nested {"c": ...} objects, for the recursion limit. */
static json_t *chain(int n)
{
    json_t *j = json_pack("{s:s, s:n}", "name", "leaf", "c");
    for (int i = 0; i < n; i++)
        j = json_pack("{s:o}", "c", j);
    return j;
}

static void test_recursion_limit(void **state)
{
    (void)state;
    static const struct src srcs[] = {
        {"nest", "{{#c}}{{>nest}}{{/c}}{{^c}}{{name}}{{/c}}", false},
        {"cyc1", "{{<cyc2}}{{/cyc2}}", false},
        {"cyc2", "{{<cyc1}}{{/cyc1}}", false},
        {NULL, NULL, false},
    };
    struct tpl_set *set = build(srcs, "{{>nest}}", false);
    struct kr_error err;
    struct buf out;
    buf_init(&out, OUT_MAX);
    /* main -> nest is one level; 31 more keep within 32. */
    json_t *ok = chain(31);
    assert_int_equal(tpl_render(set, "main", "de", ok, &out, &err), KR_OK);
    assert_string_equal(buf_cstr(&out), "leaf");
    json_t *deep = chain(32);
    buf_reset(&out);
    assert_int_equal(tpl_render(set, "main", "de", deep, &out, &err), KR_ERR_INVALID);
    assert_int_equal(tpl_render(set, "cyc1", "de", NULL, &out, &err), KR_ERR_INVALID);
    /* the set is still usable afterwards */
    buf_reset(&out);
    assert_int_equal(tpl_render(set, "main", "de", ok, &out, &err), KR_OK);
    json_decref(ok);
    json_decref(deep);
    buf_release(&out);
    tpl_set_free(set);
}

/* 64 nested tags of one kind around a call of the template itself. */
static char *nested_self_call(const char *name, const char *open, const char *close)
{
    struct buf b;
    buf_init(&b, 4096);
    for (int i = 0; i < 64; i++)
        (void)buf_puts(&b, open);
    (void)buf_printf(&b, "{{>%s}}", name);
    for (int i = 0; i < 64; i++)
        (void)buf_puts(&b, close);
    assert_int_equal(buf_status(&b), KR_OK);
    return buf_detach(&b, NULL);
}

/* Sections pushed through a few partial levels fill the context stack;
 * inverted sections (which push nothing) exhaust the frame limit.  Both
 * end in KR_ERR_INVALID before the partial limit of 32 and without a crash. */
static void test_render_depth_limits(void **state)
{
    (void)state;
    char *sections = nested_self_call("s", "{{#a}}", "{{/a}}");
    char *inverted = nested_self_call("i", "{{^x}}", "{{/x}}");
    struct src srcs[] = {{"s", sections, false}, {"i", inverted, false}, {NULL, NULL, false}};
    struct tpl_set *set = build(srcs, NULL, false);
    json_t *ctx = json_pack("{s:b}", "a", 1);
    struct buf out;
    struct kr_error err;
    buf_init(&out, OUT_MAX);
    assert_int_equal(tpl_render(set, "s", NULL, ctx, &out, &err), KR_ERR_INVALID);
    assert_int_equal(tpl_render(set, "i", NULL, ctx, &out, &err), KR_ERR_INVALID);
    buf_release(&out);
    json_decref(ctx);
    tpl_set_free(set);
    free(sections);
    free(inverted);
}

static const struct src layouts[] = {
    {"layout", "<title>{{$title}}Kreis{{/title}}</title><main>{{$body}}default{{/body}}</main>",
     false},
    {"page", "{{<layout}}{{$title}}Seite{{/title}}{{$body}}page body{{/body}}{{/layout}}", false},
    {"mid", "{{<layout}}{{$title}}Mid{{/title}}{{/layout}}", false},
    {"scope", "{{#nested}}{{$block}}You say {{fruit}}.{{/block}}{{/nested}}", false},
    {"partials/title", "{{$title}}T0{{/title}}", false},
    {"with_partial", "<header>{{>partials/title}}</header>", false},
    {"twice", "<h1>{{$title}}x{{/title}}</h1><title>{{$title}}x{{/title}}</title>", false},
    {NULL, NULL, false},
};

static void test_inheritance(void **state)
{
    (void)state;
    static const struct row rows[] = {
        {"{{<layout}}{{/layout}}", NULL, "<title>Kreis</title><main>default</main>", KR_OK},
        {"{{<layout}}{{$body}}mine{{/body}}{{/layout}}", NULL,
         "<title>Kreis</title><main>mine</main>", KR_OK},
        {"{{<page}}{{/page}}", NULL, "<title>Seite</title><main>page body</main>", KR_OK},
        /* two levels: the most derived template wins */
        {"{{<page}}{{$title}}Main{{/title}}{{/page}}", NULL,
         "<title>Main</title><main>page body</main>", KR_OK},
        {"{{<mid}}{{$body}}{{x}}{{/body}}{{/mid}}", "{\"x\": \"<x>\"}",
         "<title>Mid</title><main>&lt;x&gt;</main>", KR_OK},
        /* an override renders with the context where the block stands */
        {"{{<scope}}{{$block}}I say {{fruit}}.{{/block}}{{/scope}}",
         "{\"fruit\": \"apples\", \"nested\": {\"fruit\": \"bananas\"}}", "I say bananas.", KR_OK},
        {"{{<scope}}{{/scope}}", "{\"fruit\": \"apples\", \"nested\": {\"fruit\": \"bananas\"}}",
         "You say bananas.", KR_OK},
        {"{{<scope}}{{/scope}}", "{\"nested\": [{\"fruit\": \"a\"}, {\"fruit\": \"b\"}]}",
         "You say a.You say b.", KR_OK},
        {"{{$a}}default{{/a}}", NULL, "default", KR_OK},
        {"{{<twice}}{{$title}}T{{/title}}{{/twice}}", NULL, "<h1>T</h1><title>T</title>", KR_OK},
        /* whitespace and comments inside the parent tag are dropped */
        {"{{<layout}}\n  {{$title}}X{{/title}}\n  {{! note }}\n{{/layout}}\n", NULL,
         "<title>X</title><main>default</main>", KR_OK},
        {"{{<layout}}\n{{$body}}\n<p>x</p>\n{{/body}}\n{{/layout}}\n", NULL,
         "<title>Kreis</title><main><p>x</p>\n</main>", KR_OK},
        /* overrides reach blocks in the parent's partials */
        {"{{<with_partial}}{{$title}}T1{{/title}}{{/with_partial}}", NULL, "<header>T1</header>",
         KR_OK},
        {"{{>with_partial}}", NULL, "<header>T0</header>", KR_OK},
        /* overrides last only for their own parent reference */
        {"{{<layout}}{{$title}}A{{/title}}{{/layout}}|{{<layout}}{{/layout}}", NULL,
         "<title>A</title><main>default</main>|<title>Kreis</title><main>default</main>", KR_OK},
        {"{{#items}}{{<partials/title}}{{$title}}{{.}}{{/title}}{{/partials/title}}{{/items}}",
         "{\"items\": [1, 2]}", "12", KR_OK},
        /* an override that contains itself recurses until the limit */
        {"{{<layout}}{{$title}}x{{$title}}y{{/title}}{{/title}}{{/layout}}", NULL, NULL,
         KR_ERR_INVALID},
    };
    check_rows(layouts, false, "de", rows, N(rows));
}

static void test_messages(void **state)
{
    (void)state;
    static const struct row de[] = {
        {"{{t:hello}}", NULL, "Hallo", KR_OK},
        {"{{ t:hello }}", NULL, "Hallo", KR_OK},
        {"{{t:welcome}}", "{\"name\": \"<Eve>\"}", "Willkommen, &lt;Eve&gt;!", KR_OK},
        {"{{t:amp}}", NULL, "M\xC3\xBCller &amp; S\xC3\xB6hne", KR_OK},
        {"{{t:quote}}", NULL, "Sag &quot;Hallo&quot; &amp; &#39;Tsch\xC3\xBC\xC3\x9F&#39;", KR_OK},
        {"{{t:hits}}", "{\"n\": 3}", "3 Treffer", KR_OK},
        {"{{t:hits}}", "{}", "Keine Treffer", KR_OK},
        {"{{#user}}{{t:welcome}}{{/user}}", "{\"user\": {\"name\": \"Anna\"}}", "Willkommen, Anna!",
         KR_OK},
        {"{{#l}}{{t:hello}} {{/l}}", "{\"l\": [1, 2]}", "Hallo Hallo ", KR_OK},
    };
    static const struct row en[] = {
        {"{{t:hello}}", NULL, "Hello", KR_OK},
        {"{{t:welcome}}", "{\"name\": \"<Eve>\"}", "Welcome, &lt;Eve&gt;!", KR_OK},
        {"{{t:hits}}", "{\"n\": 1}", "1 hits", KR_OK},
    };
    check_rows(NULL, false, "de", de, N(de));
    check_rows(NULL, false, NULL, de, N(de)); /* NULL is the default language */
    check_rows(NULL, false, "en", en, N(en));
    static const struct row missing[] = {{"{{t:hello}}", NULL, NULL, KR_ERR_NOT_FOUND}};
    check_rows(NULL, false, "fr", missing, N(missing));
    check_rows(NULL, false, "", missing, N(missing));
}

static void test_tpl_message(void **state)
{
    (void)state;
    struct tpl_set *set = build(NULL, NULL, false);
    assert_string_equal(tpl_message(set, "de", "hello"), "Hallo");
    assert_string_equal(tpl_message(set, "en", "hello"), "Hello");
    assert_string_equal(tpl_message(set, "de", "welcome"), "Willkommen, {{name}}!");
    assert_string_equal(tpl_message(set, "en", "amp"), "Smith & Sons");
    assert_string_equal(tpl_message(set, "de", "nope"), "nope");
    assert_string_equal(tpl_message(set, "fr", "hello"), "Hallo"); /* default language */
    assert_string_equal(tpl_message(set, NULL, "hello"), "Hallo");
    assert_string_equal(tpl_message(set, "de", ""), "");
    tpl_set_free(set);
}

/* A syntax error: the source of "main", the code of tpl_set_add, and the
 * line its message must name. */
struct syntax_row {
    const char *src;
    int rc;
    unsigned line;
};

static void check_syntax(const struct syntax_row *rows, size_t n, bool txt)
{
    for (size_t i = 0; i < n; i++) {
        struct tpl_set *set;
        struct kr_error err;
        assert_int_equal(tpl_set_new(&set, &err), KR_OK);
        kr_error_clear(&err);
        /* An exact copy without a NUL: the compiler must not read past len. */
        size_t len = strlen(rows[i].src);
        char *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, rows[i].src, len);
        int rc = tpl_set_add(set, "main", copy, len, !txt, &err);
        free(copy);
        if (rc != rows[i].rc)
            fail_msg("row %zu '%s': rc %d, expected %d (%s)", i, rows[i].src, rc, rows[i].rc,
                     err.message);
        char prefix[32];
        (void)snprintf(prefix, sizeof(prefix), "main:%u: ", rows[i].line);
        if (rc && strncmp(err.message, prefix, strlen(prefix)) != 0)
            fail_msg("row %zu: message '%s' does not start with '%s'", i, err.message, prefix);
        assert_false(tpl_set_has(set, "main"));
        tpl_set_free(set);
    }
}

static void test_syntax_errors(void **state)
{
    (void)state;
    static const struct syntax_row rows[] = {
        /* unclosed tags */
        {"{{name", KR_ERR_INVALID, 1},
        {"a\nb {{name", KR_ERR_INVALID, 2},
        {"{{name}", KR_ERR_INVALID, 1},
        {"{{{name}}", KR_ERR_INVALID, 1},
        {"{{! comment", KR_ERR_INVALID, 1},
        {"}}{{", KR_ERR_INVALID, 1},
        /* sections */
        {"{{#items}}x", KR_ERR_INVALID, 1},
        {"a\n{{#a}}\n{{#b}}\n{{/b}}\n", KR_ERR_INVALID, 2},
        {"{{#a}}\n{{/b}}", KR_ERR_INVALID, 2},
        {"{{#a}}{{#b}}{{/a}}{{/b}}", KR_ERR_INVALID, 1},
        {"x\n\n{{/a}}", KR_ERR_INVALID, 3},
        {"{{^a}}", KR_ERR_INVALID, 1},
        {"{{$a}}", KR_ERR_INVALID, 1},
        {"{{<a}}", KR_ERR_INVALID, 1},
        {"{{#a}}{{/ a.b }}", KR_ERR_INVALID, 1},
        /* empty names */
        {"{{}}", KR_ERR_INVALID, 1},
        {"{{ }}", KR_ERR_INVALID, 1},
        {"{{#}}{{/}}", KR_ERR_INVALID, 1},
        {"{{^ }}", KR_ERR_INVALID, 1},
        {"{{>}}", KR_ERR_INVALID, 1},
        {"{{<}}{{/}}", KR_ERR_INVALID, 1},
        {"{{$}}{{/}}", KR_ERR_INVALID, 1},
        {"{{/}}", KR_ERR_INVALID, 1},
        {"{{{}}}", KR_ERR_INVALID, 1},
        {"{{&}}", KR_ERR_INVALID, 1},
        {"{{t:}}", KR_ERR_INVALID, 1},
        /* unknown sigils */
        {"{{=<% %>=}}", KR_ERR_INVALID, 1},
        {"x\n{{%x}}", KR_ERR_INVALID, 2},
        {"{{@x}}", KR_ERR_INVALID, 1},
        {"{{*x}}", KR_ERR_INVALID, 1},
        {"{{+x}}", KR_ERR_INVALID, 1},
        {"{{?x}}", KR_ERR_INVALID, 1},
        {"{{\"x\"}}", KR_ERR_INVALID, 1},
        {"{{:x}}", KR_ERR_INVALID, 1},
        {"{{\x01x}}", KR_ERR_INVALID, 1},
        {"{{\xC3\xA4}}", KR_ERR_INVALID, 1},
        /* invalid names */
        {"{{a b}}", KR_ERR_INVALID, 1},
        {"{{a..b}}", KR_ERR_INVALID, 1},
        {"{{.a}}", KR_ERR_INVALID, 1},
        {"{{a.}}", KR_ERR_INVALID, 1},
        {"{{..}}", KR_ERR_INVALID, 1},
        {"{{a:b}}", KR_ERR_INVALID, 1},
        {"{{x:b}}", KR_ERR_INVALID, 1},
        {"{{a/b}}", KR_ERR_INVALID, 1},
        {"{{#a<b}}{{/a<b}}", KR_ERR_INVALID, 1},
        {"{{#\xC3\xA4}}{{/\xC3\xA4}}", KR_ERR_INVALID, 1},
        {"{{>../etc/passwd}}", KR_ERR_INVALID, 1},
        {"{{>a//b}}", KR_ERR_INVALID, 1},
        {"{{>/abs}}", KR_ERR_INVALID, 1},
        {"{{>a/}}", KR_ERR_INVALID, 1},
        {"{{>a/./b}}", KR_ERR_INVALID, 1},
        {"{{>a b}}", KR_ERR_INVALID, 1},
        {"{{$a/b}}{{/a/b}}", KR_ERR_INVALID, 1},
        {"{{t:a b}}", KR_ERR_INVALID, 1},
        {"{{t:a:b}}", KR_ERR_INVALID, 1},
        {"{{t:a/b}}", KR_ERR_INVALID, 1},
        {"{{#t:a}}{{/t:a}}", KR_ERR_INVALID, 1},
        {"{{{t:a}}}", KR_ERR_INVALID, 1},
        /* only blocks inside a parent reference */
        {"{{<p}}text{{/p}}", KR_ERR_INVALID, 1},
        {"{{<p}}\n\n  x\n{{/p}}", KR_ERR_INVALID, 3},
        {"{{<p}}{{x}}{{/p}}", KR_ERR_INVALID, 1},
        {"{{<p}}{{{x}}}{{/p}}", KR_ERR_INVALID, 1},
        {"{{<p}}{{#a}}{{/a}}{{/p}}", KR_ERR_INVALID, 1},
        {"{{<p}}{{>q}}{{/p}}", KR_ERR_INVALID, 1},
        {"{{<p}}{{<q}}{{/q}}{{/p}}", KR_ERR_INVALID, 1},
        {"{{<p}}{{t:hello}}{{/p}}", KR_ERR_INVALID, 1},
        {"{{<p}}\n{{$a}}1{{/a}}\n{{$a}}2{{/a}}\n{{/p}}", KR_ERR_INVALID, 3},
        /* the encoding */
        {"ok\n\xFF", KR_ERR_INVALID, 2},
        {"ok\n\nGr\xC3\xBC\xC3", KR_ERR_INVALID, 3},
        {"\xC0\xAF", KR_ERR_INVALID, 1},
    };
    check_syntax(rows, N(rows), false);
    check_syntax(rows, N(rows), true);
}

static void test_limits(void **state)
{
    (void)state;
    struct tpl_set *set;
    struct kr_error err;
    struct buf src;
    assert_int_equal(tpl_set_new(&set, &err), KR_OK);

    /* 64 nested sections are fine, 65 are not */
    buf_init(&src, 2 * OUT_MAX);
    for (int i = 0; i < 64; i++)
        assert_int_equal(buf_puts(&src, i % 2 ? "{{#a}}" : "{{^b}}"), KR_OK);
    for (int i = 63; i >= 0; i--)
        assert_int_equal(buf_puts(&src, i % 2 ? "{{/a}}" : "{{/b}}"), KR_OK);
    assert_int_equal(tpl_set_add(set, "deep64", src.data, src.len, true, &err), KR_OK);
    buf_reset(&src);
    for (int i = 0; i < 65; i++)
        assert_int_equal(buf_puts(&src, "\n{{#a}}"), KR_OK);
    assert_int_equal(tpl_set_add(set, "deep65", src.data, src.len, true, &err), KR_ERR_INVALID);
    assert_non_null(strstr(err.message, "deep65:66: "));

    /* 1 MiB of source is fine, one byte more is not */
    buf_reset(&src);
    for (size_t i = 0; i < ((size_t)1 << 20) / 8; i++)
        assert_int_equal(buf_append(&src, "<p>x</p>", 8), KR_OK);
    assert_int_equal(tpl_set_add(set, "big", src.data, src.len, true, &err), KR_OK);
    assert_int_equal(buf_putc(&src, 'x'), KR_OK);
    assert_int_equal(tpl_set_add(set, "bigger", src.data, src.len, true, &err), KR_ERR_TOO_LARGE);

    /* a NUL byte is no template text */
    assert_int_equal(tpl_set_add(set, "nul", "a\n\nb\0c", 6, true, &err), KR_ERR_INVALID);
    assert_non_null(strstr(err.message, "nul:3: "));
    /* an empty template is fine */
    assert_int_equal(tpl_set_add(set, "empty", "", 0, true, &err), KR_OK);
    assert_int_equal(tpl_set_add(set, "empty2", NULL, 0, true, &err), KR_OK);

    buf_release(&src);
    tpl_set_free(set);
}

/* A template bomb stops at the work budget instead of running for hours;
 * legitimate big and deep templates render. */
static void test_work_budget(void **state)
{
    (void)state;
    struct tpl_set *set;
    struct kr_error err;
    struct buf src;
    assert_int_equal(tpl_set_new(&set, &err), KR_OK);
    buf_init(&src, 2 * OUT_MAX);
    for (int i = 0; i < 64; i++)
        assert_int_equal(buf_puts(&src, i % 2 ? "{{#a}}" : "{{^b}}"), KR_OK);
    for (int i = 63; i >= 0; i--)
        assert_int_equal(buf_puts(&src, i % 2 ? "{{/a}}" : "{{/b}}"), KR_OK);
    assert_int_equal(tpl_set_add(set, "deep64", src.data, src.len, true, &err), KR_OK);
    buf_reset(&src);
    for (size_t i = 0; i < ((size_t)1 << 20) / 8; i++)
        assert_int_equal(buf_append(&src, "<p>x</p>", 8), KR_OK);
    assert_int_equal(tpl_set_add(set, "big", src.data, src.len, true, &err), KR_OK);
    assert_int_equal(tpl_set_add(set, "empty", "", 0, true, &err), KR_OK);
    const char *bomb = "{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}x{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}";
    assert_int_equal(tpl_set_add(set, "bomb", bomb, strlen(bomb), true, &err), KR_OK);
    assert_int_equal(tpl_set_link(set, &err), KR_OK);
    json_t *a = json_array();
    for (int i = 0; i < 40; i++)
        json_array_append_new(a, json_integer(i));
    json_t *ctx = json_pack("{s:o}", "a", a);
    struct buf out;
    buf_init(&out, (size_t)1 << 30);
    assert_int_equal(tpl_render(set, "bomb", NULL, ctx, &out, &err), KR_ERR_TOO_LARGE);
    buf_reset(&out);
    assert_int_equal(tpl_render(set, "empty", NULL, ctx, &out, &err), KR_OK);
    assert_string_equal(buf_cstr(&out), "");
    buf_reset(&out);
    assert_int_equal(tpl_render(set, "big", NULL, ctx, &out, &err), KR_OK);
    assert_int_equal(out.len, (size_t)1 << 20);
    buf_reset(&out);
    json_decref(ctx);
    ctx = json_pack("{s:b}", "a", 1);
    assert_int_equal(tpl_render(set, "deep64", NULL, ctx, &out, &err), KR_OK);
    json_decref(ctx);
    buf_release(&out);
    buf_release(&src);
    tpl_set_free(set);
}

/* Templates that compile but do not link: the error names template and
 * line. */
static void test_link_errors(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        const char *prefix;
    } rows[] = {
        {"a\n{{>nope}}", "main:2: "},
        {"{{>partials/nope}}", "main:1: "},
        {"\n\n{{<nope}}{{/nope}}", "main:3: "},
        {"x\ny\n{{t:nope}}", "main:3: "},
        {"{{#a}}\n{{^b}}{{t:HELLO}}{{/b}}{{/a}}", "main:2: "},
    };
    for (size_t i = 0; i < N(rows); i++) {
        struct tpl_set *set;
        struct kr_error err;
        assert_int_equal(tpl_set_new(&set, &err), KR_OK);
        assert_int_equal(tpl_set_add(set, "main", rows[i].src, strlen(rows[i].src), true, &err),
                         KR_OK);
        add_catalogue(set, "de", de_json);
        assert_int_equal(tpl_set_link(set, &err), KR_ERR_INVALID);
        if (strncmp(err.message, rows[i].prefix, strlen(rows[i].prefix)) != 0)
            fail_msg("row %zu: '%s'", i, err.message);
        struct buf out;
        buf_init(&out, 100);
        assert_int_equal(tpl_render(set, "main", NULL, NULL, &out, &err), KR_ERR_INVALID);
        buf_release(&out);
        tpl_set_free(set);
    }
}

static int add_json(struct tpl_set *set, const char *lang, const char *text, struct kr_error *err)
{
    json_t *j = parse(text);
    int rc = tpl_set_add_messages(set, lang, j, err);
    json_decref(j);
    return rc;
}

static void test_catalogue_errors(void **state)
{
    (void)state;
    static const struct {
        const char *lang;
        const char *json;
        int rc;
    } rows[] = {
        {"de", "{\"a\": \"x\"}", KR_OK},
        {"de", "{}", KR_OK},
        {"de", "{\"a\": 5}", KR_ERR_INVALID},
        {"de", "{\"a\": null}", KR_ERR_INVALID},
        {"de", "{\"a\": {\"b\": \"nested\"}}", KR_ERR_INVALID},
        {"de", "[\"a\"]", KR_ERR_INVALID},
        {"de", "\"a\"", KR_ERR_INVALID},
        {"de", "{\"a\": \"{{>p}}\"}", KR_ERR_INVALID},
        {"de", "{\"a\": \"{{<p}}{{/p}}\"}", KR_ERR_INVALID},
        {"de", "{\"a\": \"{{$b}}{{/b}}\"}", KR_ERR_INVALID},
        {"de", "{\"a\": \"{{t:a}}\"}", KR_ERR_INVALID},
        {"de", "{\"a\": \"{{#x}}\"}", KR_ERR_INVALID},
        {"de", "{\"a\": \"ok\", \"b\": \"{{x\"}", KR_ERR_INVALID},
        {"de", "{\"a\": \"{{x}} {{{y}}} {{#z}}{{.}}{{/z}} {{! c }}\"}", KR_OK},
        {"DE", "{}", KR_ERR_INVALID},
        {"d", "{}", KR_ERR_INVALID},
        {"deut", "{}", KR_ERR_INVALID},
        {"de-AT", "{}", KR_ERR_INVALID},
        {"", "{}", KR_ERR_INVALID},
        {"../x", "{}", KR_ERR_INVALID},
    };
    for (size_t i = 0; i < N(rows); i++) {
        struct tpl_set *set;
        struct kr_error err;
        assert_int_equal(tpl_set_new(&set, &err), KR_OK);
        int rc = add_json(set, rows[i].lang, rows[i].json, &err);
        if (rc != rows[i].rc)
            fail_msg("row %zu: rc %d (%s)", i, rc, err.message);
        assert_int_equal(tpl_set_has_lang(set, rows[i].lang), rc == KR_OK);
        tpl_set_free(set);
    }
}

/* Keys with a NUL byte would collapse to the same C string. */
static void test_catalogue_nul_keys(void **state)
{
    (void)state;
#if JANSSON_VERSION_HEX >= 0x020e00
    struct tpl_set *set;
    struct kr_error err;
    assert_int_equal(tpl_set_new(&set, &err), KR_OK);
    json_t *m = json_object();
    json_object_setn_new(m, "a\0b", 3, json_string("1"));
    json_object_setn_new(m, "a\0c", 3, json_string("2"));
    assert_int_equal(tpl_set_add_messages(set, "de", m, &err), KR_ERR_INVALID);
    json_decref(m);
    tpl_set_free(set);
#endif
}

static void test_catalogues_must_match(void **state)
{
    (void)state;
    static const struct {
        const char *de;
        const char *en;
        const char *missing; /* the key the error names */
    } rows[] = {
        {"{\"a\": \"1\", \"b\": \"2\"}", "{\"a\": \"1\"}", "'b'"},
        {"{\"a\": \"1\"}", "{\"a\": \"1\", \"c\": \"3\"}", "'c'"},
        {"{\"a\": \"1\", \"b\": \"2\"}", "{\"a\": \"1\", \"c\": \"3\"}", "'b'"},
        {"{}", "{\"z\": \"\"}", "'z'"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        struct tpl_set *set;
        struct kr_error err;
        assert_int_equal(tpl_set_new(&set, &err), KR_OK);
        assert_int_equal(add_json(set, "en", rows[i].en, &err), KR_OK);
        assert_int_equal(add_json(set, "de", rows[i].de, &err), KR_OK);
        assert_int_equal(tpl_set_link(set, &err), KR_ERR_INVALID);
        assert_non_null(strstr(err.message, rows[i].missing));
        tpl_set_free(set);
    }
}

static void test_set_api(void **state)
{
    (void)state;
    struct tpl_set *set;
    struct kr_error err;
    assert_int_equal(tpl_set_new(&set, &err), KR_OK);
    assert_null(tpl_default_lang(set));
    assert_null(tpl_negotiate_lang(set, "de"));
    assert_string_equal(tpl_message(set, "de", "k"), "k");
    assert_int_equal(tpl_set_add(set, "a", "x", 1, true, &err), KR_OK);
    assert_int_equal(tpl_set_add(set, "a", "y", 1, false, &err), KR_ERR_CONFLICT);
    static const char *const bad_names[] = {"",  "/a",  "a/",   "a//b",     "../a", "a/../b",
                                            ".", "a b", "a\\b", "\xC3\xA4", "a:b"};
    for (size_t i = 0; i < N(bad_names); i++)
        assert_int_equal(tpl_set_add(set, bad_names[i], "x", 1, true, &err), KR_ERR_INVALID);
    assert_int_equal(tpl_set_add(set, "pages/home.v2", "x", 1, true, &err), KR_OK);
    assert_int_equal(tpl_set_add(set, "_x-1", "{{t:k}}", 7, true, &err), KR_OK);

    /* rendering needs a link; the default is "de" when present */
    struct buf out;
    buf_init(&out, 100);
    assert_int_equal(tpl_render(set, "a", NULL, NULL, &out, &err), KR_ERR_INVALID);
    assert_int_equal(add_json(set, "en", "{\"k\": \"en\"}", &err), KR_OK);
    assert_string_equal(tpl_default_lang(set), "en");
    assert_int_equal(add_json(set, "fr", "{\"k\": \"fr\"}", &err), KR_OK);
    assert_string_equal(tpl_default_lang(set), "en");
    assert_int_equal(add_json(set, "de", "{\"k\": \"de\"}", &err), KR_OK);
    assert_int_equal(add_json(set, "de", "{\"k\": \"de\"}", &err), KR_ERR_CONFLICT);
    assert_string_equal(tpl_default_lang(set), "de");
    assert_int_equal(tpl_set_link(set, &err), KR_OK);
    assert_int_equal(tpl_set_link(set, &err), KR_OK);

    assert_true(tpl_set_has(set, "a"));
    assert_true(tpl_set_has(set, "pages/home.v2"));
    assert_false(tpl_set_has(set, "b"));
    assert_false(tpl_set_has(set, "pages/home"));
    assert_true(tpl_set_has_lang(set, "fr"));
    assert_false(tpl_set_has_lang(set, "it"));
    assert_false(tpl_set_has_lang(set, NULL));

    assert_int_equal(tpl_render(set, "nope", "de", NULL, &out, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(tpl_render(set, "a", "it", NULL, &out, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(tpl_render(set, "_x-1", "fr", NULL, &out, &err), KR_OK);
    assert_int_equal(tpl_render(set, "_x-1", NULL, NULL, &out, &err), KR_OK);
    assert_string_equal(buf_cstr(&out), "frde"); /* render appends */

    /* a linked set is shared and read-only */
    assert_int_equal(tpl_set_add(set, "late", "x", 1, true, &err), KR_ERR_INVALID);
    assert_int_equal(add_json(set, "it", "{\"k\": \"it\"}", &err), KR_ERR_INVALID);
    buf_release(&out);
    tpl_set_free(set);
    tpl_set_free(NULL);
}

/* A set without catalogues renders in the "no language" NULL. */
static void test_set_without_catalogues(void **state)
{
    (void)state;
    struct tpl_set *set;
    struct kr_error err;
    assert_int_equal(tpl_set_new(&set, &err), KR_OK);
    assert_int_equal(tpl_set_add(set, "a", "<{{x}}>", 7, true, &err), KR_OK);
    assert_int_equal(tpl_set_link(set, &err), KR_OK);
    struct buf out;
    buf_init(&out, 100);
    json_t *ctx = parse("{\"x\": \"&\"}");
    assert_int_equal(tpl_render(set, "a", NULL, ctx, &out, &err), KR_OK);
    assert_string_equal(buf_cstr(&out), "<&amp;>");
    assert_int_equal(tpl_render(set, "a", "de", ctx, &out, &err), KR_ERR_NOT_FOUND);
    json_decref(ctx);
    buf_release(&out);
    tpl_set_free(set);

    /* ...and a message reference then cannot link */
    assert_int_equal(tpl_set_new(&set, &err), KR_OK);
    assert_int_equal(tpl_set_add(set, "a", "{{t:x}}", 7, true, &err), KR_OK);
    assert_int_equal(tpl_set_link(set, &err), KR_ERR_INVALID);
    tpl_set_free(set);
}

static void test_output_cap(void **state)
{
    (void)state;
    static const struct src srcs[] = {
        {"list", "{{#l}}<li>{{.}}</li>{{/l}}", false},
        {"esc", "{{s}}", false},
        {NULL, NULL, false},
    };
    struct tpl_set *set = build(srcs, "0123456789abcdef", false);
    struct kr_error err;
    struct buf out;
    json_t *ctx = parse("{\"l\": [1, 2, 3, 4, 5, 6, 7, 8, 9], \"s\": \"<<<<<<<<\"}");
    static const struct {
        const char *name;
        size_t cap;
        int rc;
    } rows[] = {
        {"main", 16, KR_OK}, {"main", 15, KR_ERR_TOO_LARGE}, {"main", 0, KR_ERR_TOO_LARGE},
        {"list", 90, KR_OK}, {"list", 89, KR_ERR_TOO_LARGE}, {"list", 12, KR_ERR_TOO_LARGE},
        {"esc", 32, KR_OK},  {"esc", 31, KR_ERR_TOO_LARGE},
    };
    for (size_t i = 0; i < N(rows); i++) {
        buf_init(&out, rows[i].cap);
        int rc = tpl_render(set, rows[i].name, "de", ctx, &out, &err);
        if (rc != rows[i].rc)
            fail_msg("row %zu: rc %d", i, rc);
        if (rc)
            assert_int_equal(err.code, rc);
        assert_true(out.len <= rows[i].cap);
        /* a buffer already in error stays in error */
        if (rc)
            assert_int_equal(tpl_render(set, "main", "de", ctx, &out, &err), rc);
        buf_release(&out);
    }
    json_decref(ctx);
    tpl_set_free(set);
}

static void test_escape_html(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } rows[] = {
        {"", 0, ""},
        {"plain", 5, "plain"},
        {"&", 1, "&amp;"},
        {"<", 1, "&lt;"},
        {">", 1, "&gt;"},
        {"\"", 1, "&quot;"},
        {"'", 1, "&#39;"},
        {"a&b<c>d\"e'f", 11, "a&amp;b&lt;c&gt;d&quot;e&#39;f"},
        {"<<>>", 4, "&lt;&lt;&gt;&gt;"},
        {"`=/", 3, "`=/"},
        {"\xC3\xA4<\xE2\x82\xAC", 6, "\xC3\xA4&lt;\xE2\x82\xAC"},
        {"a\0<", 3, "a\0&lt;"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        struct buf out;
        buf_init(&out, 100);
        assert_int_equal(tpl_escape_html(&out, rows[i].in, rows[i].len), KR_OK);
        size_t want = rows[i].len == 3 && rows[i].in[1] == '\0' ? 6 : strlen(rows[i].out);
        assert_int_equal(out.len, want);
        assert_memory_equal(buf_cstr(&out), rows[i].out, want);
        buf_release(&out);
    }
    struct buf small;
    buf_init(&small, 4);
    assert_int_equal(tpl_escape_html(&small, "<", 1), KR_OK);
    assert_int_equal(tpl_escape_html(&small, "<", 1), KR_ERR_TOO_LARGE);
    buf_release(&small);
}

static void test_negotiate_lang(void **state)
{
    (void)state;
    struct tpl_set *set;
    struct kr_error err;
    assert_int_equal(tpl_set_new(&set, &err), KR_OK);
    assert_int_equal(add_json(set, "en", "{}", &err), KR_OK);
    assert_int_equal(add_json(set, "de", "{}", &err), KR_OK);
    assert_int_equal(add_json(set, "fr", "{}", &err), KR_OK);
    assert_int_equal(add_json(set, "dsb", "{}", &err), KR_OK); /* Lower Sorbian */
    static const struct {
        const char *header;
        const char *lang;
    } rows[] = {
        {NULL, "de"},
        {"", "de"},
        {"en", "en"},
        {"EN", "en"},
        {"en-US", "en"},
        {"en-US,en;q=0.9", "en"},
        {"fr;q=0.5, en;q=0.8", "en"},
        {"fr, en", "fr"},
        {"en;q=0.5,fr;q=0.5", "en"},
        {"it", "de"},
        {"it, en;q=0.1", "en"},
        {"*", "de"},
        {"*;q=0.5, fr;q=0.4", "de"},
        {"fr;q=0.4, *;q=0.5", "de"},
        {"en;q=0, *", "de"},
        {"de;q=0, *", "en"},
        {"de;q=0", "de"},
        {"en;q=0", "de"},
        {"en;q=1.000", "en"},
        {"en;q=1.", "en"},
        {"fr;q=0.9,en;q=1.001", "fr"},
        {"en;q=0.8x", "de"},
        {"en;q=.5", "de"},
        {"en;q=0.0001,fr;q=0.001", "fr"},
        {"en;q=2", "de"},
        {"en;q=-1", "de"},
        {"en; q = 0.5", "en"},
        {"en;Q=0.5", "en"},
        {"en;q=", "de"},
        {"en;q=00", "de"},
        {"en;", "de"},
        {"en ;", "de"},
        {"en;level=1", "de"},
        {"en;q=0.5;q=0.6", "de"},
        {";;;,,,", "de"},
        {"en-", "de"},
        {"-en", "de"},
        {"e1", "de"},
        {"englishxx", "de"},
        {"en--US", "de"},
        {"en-abcdefghi", "de"},
        {"en_US", "de"},
        {"fr-CA-x-foo, en", "fr"},
        {"  en  ,  fr  ", "en"},
        {"\ten\t;\tq=0.3\t,fr;q=0.2", "en"},
        {"de-AT;q=0.3, en;q=0.2", "de"},
        {"en-GB;q=0.9, en-US;q=0.2, fr;q=0.5", "en"},
        {"dsb, de", "dsb"},
        {"DSB-de", "dsb"},
        {"\xFF\xFE", "de"},
        {"en\xC3\xA4", "de"},
        {"de;q=0.5, fr;q=0.5, en;q=0.5", "de"},
        /* only 32 entries count */
        {"it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,"
         "it,it,it,en",
         "en"},
        {"it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,it,"
         "it,it,it,it,en",
         "de"},
        {",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,en", "de"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        const char *got = tpl_negotiate_lang(set, rows[i].header);
        if (!got || strcmp(got, rows[i].lang) != 0)
            fail_msg("row %zu '%s': got %s, want %s", i, rows[i].header ? rows[i].header : "NULL",
                     got ? got : "NULL", rows[i].lang);
    }
    tpl_set_free(set);
}

/* ---- tpl_set_load from a directory the test writes ---- */

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    for (char *p = path + strlen(dir) + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        (void)mkdir(path, 0700);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tree(const char *dir)
{
    assert_int_equal(nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static char *make_temp_dir(void)
{
    char *dir = strdup("/tmp/kr_test_template_XXXXXX");
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

/* Paths of the "templates" and "locales" folders below dir. */
struct tree {
    char *dir;
    char templates[4096];
    char locales[4096];
};

static void tree_init(struct tree *t)
{
    t->dir = make_temp_dir();
    (void)snprintf(t->templates, sizeof(t->templates), "%s/templates", t->dir);
    (void)snprintf(t->locales, sizeof(t->locales), "%s/locales", t->dir);
    assert_int_equal(mkdir(t->templates, 0700), 0);
    assert_int_equal(mkdir(t->locales, 0700), 0);
}

static void tree_release(struct tree *t)
{
    remove_tree(t->dir);
    free(t->dir);
}

static void write_good_tree(const struct tree *t)
{
    write_file(t->dir, "templates/pages/home.html",
               "{{<layouts/base}}\n{{$main}}<p>{{t:welcome}}</p>{{/main}}\n{{/layouts/base}}\n");
    write_file(t->dir, "templates/layouts/base.html",
               "<title>{{t:title}}</title>\n{{$main}}{{/main}}\n{{>partials/footer}}\n");
    write_file(t->dir, "templates/partials/footer.html", "<footer>{{t:title}}</footer>");
    write_file(t->dir, "templates/mail/welcome.txt", "{{t:welcome}}\n");
    write_file(t->dir, "templates/.hidden.html", "{{broken");
    write_file(t->dir, "templates/.git/x.html", "{{broken");
    write_file(t->dir, "templates/README.md", "{{broken");
    write_file(t->dir, "templates/pages/notes.html~", "{{broken");
    write_file(t->dir, "locales/de.json",
               "{\"title\": \"Landkreis\", \"welcome\": \"Willkommen, {{name}}!\"}");
    write_file(t->dir, "locales/en.json",
               "{\"title\": \"County\", \"welcome\": \"Welcome, {{name}}!\"}");
    write_file(t->dir, "locales/shop/de.json", "{\"shop.open\": \"Geöffnet\"}");
    write_file(t->dir, "locales/shop/en.json", "{\"shop.open\": \"Open\"}");
    write_file(t->dir, "templates/shop/sign.txt", "{{t:shop.open}} - {{t:title}}");
    write_file(t->dir, "locales/README.md", "not a catalogue");
    write_file(t->dir, "locales/EN.json", "{broken");
    write_file(t->dir, "locales/deut.json", "{broken");
    write_file(t->dir, "locales/.de.json", "{broken");
}

static void test_load(void **state)
{
    (void)state;
    struct tree t;
    tree_init(&t);
    write_good_tree(&t);
    struct tpl_set *set = NULL;
    struct kr_error err;
    if (tpl_set_load(&set, t.templates, t.locales, &err))
        fail_msg("load: %s", err.message);
    assert_true(tpl_set_has(set, "pages/home"));
    assert_true(tpl_set_has(set, "layouts/base"));
    assert_true(tpl_set_has(set, "partials/footer"));
    assert_true(tpl_set_has(set, "mail/welcome"));
    assert_false(tpl_set_has(set, ".hidden"));
    assert_false(tpl_set_has(set, "README"));
    assert_false(tpl_set_has(set, "pages/home.html"));
    assert_true(tpl_set_has_lang(set, "de"));
    assert_true(tpl_set_has_lang(set, "en"));
    assert_false(tpl_set_has_lang(set, "deut"));
    assert_string_equal(tpl_default_lang(set), "de");

    json_t *ctx = parse("{\"name\": \"<Eve>\"}");
    struct buf out;
    buf_init(&out, OUT_MAX);
    assert_int_equal(tpl_render(set, "pages/home", "en", ctx, &out, &err), KR_OK);
    /* the standalone partial line goes; the footer has no newline of its own */
    assert_string_equal(buf_cstr(&out), "<title>County</title>\n<p>Welcome, &lt;Eve&gt;!</p>\n"
                                        "<footer>County</footer>");
    buf_reset(&out);
    assert_int_equal(tpl_render(set, "mail/welcome", "de", ctx, &out, &err), KR_OK);
    assert_string_equal(buf_cstr(&out), "Willkommen, <Eve>!\n");
    /* messages of a module's folder join the language's catalogue */
    buf_reset(&out);
    assert_int_equal(tpl_render(set, "shop/sign", "de", ctx, &out, &err), KR_OK);
    assert_string_equal(buf_cstr(&out), "Geöffnet - Landkreis");
    json_decref(ctx);
    buf_release(&out);
    tpl_set_free(set);
    tree_release(&t);
}

static void test_load_default_lang(void **state)
{
    (void)state;
    struct tree t;
    tree_init(&t);
    write_file(t.dir, "templates/a.txt", "{{t:k}}");
    write_file(t.dir, "locales/fr.json", "{\"k\": \"fr\"}");
    write_file(t.dir, "locales/en.json", "{\"k\": \"en\"}");
    struct tpl_set *set;
    struct kr_error err;
    assert_int_equal(tpl_set_load(&set, t.templates, t.locales, &err), KR_OK);
    assert_string_equal(tpl_default_lang(set), "en"); /* first in sorted order */
    tpl_set_free(set);
    tree_release(&t);
}

static void test_load_errors(void **state)
{
    (void)state;
    static const struct {
        const char *rel; /* one file to add to (or change in) a good tree */
        const char *text;
        int rc;
        const char *where; /* must appear in the message */
    } rows[] = {
        {NULL, NULL, KR_OK, ""},
        {"templates/pages/bad.html", "ok\n\n{{#x}}", KR_ERR_INVALID, "pages/bad.html:3: "},
        {"templates/pages/typo.html", "\n{{>partials/fotter}}", KR_ERR_INVALID,
         "pages/typo.html:2: "},
        {"templates/pages/home.txt", "x", KR_ERR_CONFLICT, "home"},
        {"templates/pages/my page.html", "x", KR_ERR_INVALID, "my page"},
        {"locales/en.json", "{\"title\": \"County\"}", KR_ERR_INVALID, "'welcome'"},
        {"locales/fr.json",
         "{\"title\": \"C\", \"welcome\": \"W\", \"shop.open\": \"O\", \"extra\": \"E\"}",
         KR_ERR_INVALID, "'extra'"},
        {"locales/en.json", "{\"title\": \"County\",\n \"welcome\": 5}", KR_ERR_INVALID, "en.json"},
        {"locales/en.json", "{\"title\": \"a\",\n\"title\": \"b\", \"welcome\": \"w\"}",
         KR_ERR_INVALID, "en.json:2"},
        {"locales/en.json", "{\"title\": ", KR_ERR_INVALID, "en.json:1"},
        {"locales/en.json", "[]", KR_ERR_INVALID, "en.json"},
        {"locales/shop/en.json", "{\"title\": \"x\", \"shop.open\": \"Open\"}", KR_ERR_CONFLICT,
         "shop/en.json: message 'title' is defined twice"},
        {"locales/shop/en.json", "{}", KR_ERR_INVALID, "'shop.open'"},
        {"locales/shop/de.json", "{\"shop.open\": \"x\",", KR_ERR_INVALID, "shop/de.json:1"},
        {"locales/shop/deep/en.json", "{broken", KR_OK, ""},
        {"locales/en.json", "{\"title\": \"{{>x}}\", \"welcome\": \"w\"}", KR_ERR_INVALID,
         "'title'"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        struct tree t;
        tree_init(&t);
        write_good_tree(&t);
        if (rows[i].rel)
            write_file(t.dir, rows[i].rel, rows[i].text);
        struct tpl_set *set = (struct tpl_set *)&t; /* must be reset to NULL on error */
        struct kr_error err;
        kr_error_clear(&err);
        int rc = tpl_set_load(&set, t.templates, t.locales, &err);
        if (rc != rows[i].rc || !strstr(err.message, rows[i].where))
            fail_msg("row %zu: rc %d, message '%s'", i, rc, err.message);
        if (rc)
            assert_null(set);
        tpl_set_free(set);
        tree_release(&t);
    }
}

/* Files that are not what they seem: a FIFO (skipped), a symbolic link
 * loop, a dangling link, a directory named like a catalogue, a template
 * over the size limit. */
static void test_load_special_files(void **state)
{
    (void)state;
    enum { FIFO, LOOP, DANGLING, DIR_CATALOGUE, BIG, ROWS };
    static const int want[ROWS] = {
        [FIFO] = KR_OK,           [LOOP] = KR_ERR_INVALID,
        [DANGLING] = KR_ERR_IO,   [DIR_CATALOGUE] = KR_ERR_IO,
        [BIG] = KR_ERR_TOO_LARGE,
    };
    for (int row = 0; row < ROWS; row++) {
        struct tree t;
        tree_init(&t);
        write_good_tree(&t);
        char path[4200];
        if (row == FIFO) {
            (void)snprintf(path, sizeof(path), "%s/pipe.html", t.templates);
            assert_int_equal(mkfifo(path, 0600), 0);
        } else if (row == LOOP || row == DANGLING) {
            (void)snprintf(path, sizeof(path), "%s/partials/link", t.templates);
            assert_int_equal(symlink(row == LOOP ? ".." : "/nonexistent/kr", path), 0);
        } else if (row == DIR_CATALOGUE) {
            (void)snprintf(path, sizeof(path), "%s/fr.json", t.locales);
            assert_int_equal(mkdir(path, 0700), 0);
        } else {
            char *big = malloc(((size_t)1 << 20) + 2);
            assert_non_null(big);
            memset(big, 'x', ((size_t)1 << 20) + 1);
            big[((size_t)1 << 20) + 1] = '\0';
            write_file(t.dir, "templates/big.html", big);
            free(big);
        }
        struct tpl_set *set;
        struct kr_error err;
        int rc = tpl_set_load(&set, t.templates, t.locales, &err);
        if (rc != want[row])
            fail_msg("row %d: rc %d (%s)", row, rc, err.message);
        tpl_set_free(rc ? NULL : set);
        tree_release(&t);
    }
}

static void test_load_dirs(void **state)
{
    (void)state;
    struct tree t;
    tree_init(&t);
    struct tpl_set *set;
    struct kr_error err;
    char missing[4200];
    (void)snprintf(missing, sizeof(missing), "%s/missing", t.dir);
    /* no templates at all (dotfiles and other files do not count) */
    write_file(t.dir, "templates/.x.html", "x");
    write_file(t.dir, "templates/notes.md", "x");
    write_file(t.dir, "locales/de.json", "{}");
    assert_int_equal(tpl_set_load(&set, t.templates, t.locales, &err), KR_ERR_INVALID);
    assert_int_equal(tpl_set_load(&set, missing, t.locales, &err), KR_ERR_IO);
    write_file(t.dir, "templates/sub/a.html", "x");
    assert_int_equal(tpl_set_load(&set, t.templates, missing, &err), KR_ERR_IO);
    /* no catalogue */
    char de[4200];
    (void)snprintf(de, sizeof(de), "%s/de.json", t.locales);
    assert_int_equal(remove(de), 0);
    write_file(t.dir, "locales/german.json", "{}");
    assert_int_equal(tpl_set_load(&set, t.templates, t.locales, &err), KR_ERR_INVALID);
    /* a trailing slash on the directories is fine */
    write_file(t.dir, "locales/de.json", "{}");
    char slash_t[4200], slash_l[4200];
    (void)snprintf(slash_t, sizeof(slash_t), "%s/", t.templates);
    (void)snprintf(slash_l, sizeof(slash_l), "%s/", t.locales);
    assert_int_equal(tpl_set_load(&set, slash_t, slash_l, &err), KR_OK);
    assert_true(tpl_set_has(set, "sub/a"));
    tpl_set_free(set);
    tree_release(&t);
}

/* ---- many threads rendering one set ---- */

#define THREADS 8
#define RENDERS 400

static const struct src thread_srcs[] = {
    {"layout", "<title>{{$title}}{{/title}}</title>{{$main}}{{/main}}{{>footer}}", false},
    {"footer", "<footer>{{t:hello}}</footer>", false},
    {"page",
     "{{<layout}}{{$title}}{{title}}{{/title}}{{$main}}<ul>{{#items}}<li>{{name}} "
     "{{t:welcome}}</li>{{/items}}</ul>{{/main}}{{/layout}}",
     false},
    {NULL, NULL, false},
};

struct thread_job {
    const struct tpl_set *set;
    const json_t *ctx;
    const char *expect[2];
    int failures;
};

static void *render_thread(void *arg)
{
    struct thread_job *job = arg;
    static const char *const langs[2] = {"de", "en"};
    struct buf out;
    buf_init(&out, OUT_MAX);
    for (int i = 0; i < RENDERS; i++) {
        buf_reset(&out);
        struct kr_error err;
        int rc = tpl_render(job->set, "page", langs[i % 2], job->ctx, &out, &err);
        if (rc || strcmp(buf_cstr(&out), job->expect[i % 2]) != 0)
            job->failures++;
    }
    buf_release(&out);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct tpl_set *set = build(thread_srcs, NULL, false);
    json_t *items = json_array();
    for (int i = 0; i < 50; i++)
        json_array_append_new(items, json_pack("{s:s}", "name", i % 2 ? "<odd>" : "even"));
    json_t *ctx = json_pack("{s:s, s:o}", "title", "Liste & mehr", "items", items);
    struct buf expect[2];
    static const char *const langs[2] = {"de", "en"};
    struct kr_error err;
    for (int k = 0; k < 2; k++) {
        buf_init(&expect[k], OUT_MAX);
        assert_int_equal(tpl_render(set, "page", langs[k], ctx, &expect[k], &err), KR_OK);
    }
    assert_non_null(strstr(buf_cstr(&expect[0]), "<li>&lt;odd&gt; Willkommen, &lt;odd&gt;!</li>"));
    assert_non_null(strstr(buf_cstr(&expect[1]), "<footer>Hello</footer>"));
    pthread_t threads[THREADS];
    struct thread_job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (struct thread_job){set, ctx, {buf_cstr(&expect[0]), buf_cstr(&expect[1])}, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, render_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(jobs[i].failures, 0);
    }
    buf_release(&expect[0]);
    buf_release(&expect[1]);
    json_decref(ctx);
    tpl_set_free(set);
}

/* ---- every allocation may fail ---- */

/* Build, link and render a set that uses every kind of tag; returns the
 * first error code. */
static int fault_scenario(void)
{
    static const char *const main =
        "{{<layout}}{{$title}}{{t:welcome}}{{/title}}{{$body}}{{#items}}{{>item}}{{/items}}"
        "{{^items}}none{{/items}}{{/body}}{{/layout}}";
    struct tpl_set *set;
    struct kr_error err;
    int rc = tpl_set_new(&set, &err);
    if (rc)
        return rc;
    for (const struct src *s = layouts; s->name && rc == KR_OK; s++)
        rc = tpl_set_add(set, s->name, s->text, strlen(s->text), true, &err);
    if (!rc)
        rc = tpl_set_add(set, "item", "<li>{{name}}</li>", 17, true, &err);
    if (!rc)
        rc = tpl_set_add(set, "main", main, strlen(main), true, &err);
    if (!rc)
        rc = add_json(set, "de", de_json, &err);
    if (!rc)
        rc = add_json(set, "en", en_json, &err);
    if (!rc)
        rc = tpl_set_link(set, &err);
    json_t *ctx = parse("{\"name\": \"x\", \"items\": [{\"name\": \"a\"}, {\"name\": \"b\"}]}");
    struct buf out;
    buf_init(&out, OUT_MAX);
    if (!rc)
        rc = tpl_render(set, "main", "en", ctx, &out, &err);
    if (!rc &&
        strcmp(buf_cstr(&out), "<title>Welcome, x!</title><main><li>a</li><li>b</li></main>") != 0)
        rc = KR_ERR_INTERNAL;
    if (rc)
        assert_int_equal(err.code, rc);
    buf_release(&out);
    json_decref(ctx);
    tpl_set_free(set);
    return rc;
}

static void test_allocation_failures(void **state)
{
    (void)state;
    assert_int_equal(fault_scenario(), KR_OK);
    long n;
    for (n = 1; n < 100000; n++) {
        kr_fault_arm(KR_FAULT_ALLOC, n);
        int rc = fault_scenario();
        bool fired = kr_fault_fired(KR_FAULT_ALLOC) > 0;
        kr_fault_disarm();
        if (!fired) {
            assert_int_equal(rc, KR_OK);
            break;
        }
        if (rc != KR_ERR_NOMEM)
            fail_msg("allocation %ld failed but the result was %d", n, rc);
    }
    assert_true(n > 10); /* the scenario did allocate */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interpolation),
        cmocka_unit_test(test_txt_does_not_escape),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_partials),
        cmocka_unit_test(test_recursion_limit),
        cmocka_unit_test(test_render_depth_limits),
        cmocka_unit_test(test_inheritance),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_tpl_message),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_work_budget),
        cmocka_unit_test(test_link_errors),
        cmocka_unit_test(test_catalogue_errors),
        cmocka_unit_test(test_catalogue_nul_keys),
        cmocka_unit_test(test_catalogues_must_match),
        cmocka_unit_test(test_set_api),
        cmocka_unit_test(test_set_without_catalogues),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_escape_html),
        cmocka_unit_test(test_negotiate_lang),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_load_default_lang),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_load_special_files),
        cmocka_unit_test(test_load_dirs),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
