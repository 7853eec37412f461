/*
 * load.c - tpl_set_load: build a set from the templates and locales
 * directories.
 *
 * Directory entries are sorted before use, so that the set, the default
 * language and the first error reported do not depend on the order the
 * file system happens to return.  Errors name the file (this runs at start
 * and the operator needs the path).
 */
#include "template/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

/* Folders below templates_dir; also stops symbolic link loops. */
#define LOAD_DEPTH_MAX 16
/* A catalogue holds a few thousand short texts; 4 MiB is plenty. */
#define CATALOGUE_MAX ((size_t)4 << 20)

struct name_list {
    char **names;
    size_t count, cap;
};

struct loader {
    struct tpl_set *set;
    const char *root;
    struct kr_error *err;
    size_t templates;
};

static int io_error(struct kr_error *err, const char *what, const char *path, int errnum)
{
    kr_error_set(err, KR_ERR_IO, "%s: %s", path, what);
    kr_error_detail(err, "%s", strerror(errnum));
    return KR_ERR_IO;
}

/* out = a "/" b (just a when b is empty), without doubling a '/'. */
static int join(char out[PATH_MAX], const char *a, const char *b, struct kr_error *err)
{
    size_t alen = strlen(a);
    const char *sep = alen == 0 || *b == '\0' || a[alen - 1] == '/' ? "" : "/";
    int n = snprintf(out, PATH_MAX, "%s%s%s", a, sep, b);
    if (n < 0 || n >= PATH_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "%s/%s: path too long", a, b);
    return KR_OK;
}

/* Read the regular file path, at most max bytes, into a malloc'd buffer. */
static int read_file(const char *path, size_t max, char **data, size_t *len, struct kr_error *err)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error(err, "cannot open", path, errno);
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int rc = KR_OK;
    if (fstat(fd, &st) != 0) {
        rc = io_error(err, "cannot stat", path, errno);
    } else if (!S_ISREG(st.st_mode)) {
        rc = kr_error_set(err, KR_ERR_IO, "%s: not a regular file", path);
    } else if ((uintmax_t)st.st_size > max) {
        rc = kr_error_set(err, KR_ERR_TOO_LARGE, "%s: larger than %zu bytes", path, max);
    } else if (!(buf = malloc((size_t)st.st_size + 1))) {
        rc = kr_error_set(err, KR_ERR_NOMEM, "%s: out of memory", path);
    }
    /* Read one byte more than stat said, to notice a file that grew. */
    while (rc == KR_OK && got < (size_t)st.st_size + 1) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);
        if (n < 0 && errno != EINTR)
            rc = io_error(err, "cannot read", path, errno);
        if (n == 0)
            break;
        got += n > 0 ? (size_t)n : 0;
    }
    if (rc == KR_OK && got > (size_t)st.st_size)
        rc = kr_error_set(err, KR_ERR_IO, "%s: changed while being read", path);
    close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = got;
    return KR_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_release(struct name_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
    *l = (struct name_list){0};
}

/* The entries of directory path except dotfiles, sorted. */
static int list_dir(const char *path, struct name_list *l, struct kr_error *err)
{
    *l = (struct name_list){0};
    DIR *d = opendir(path);
    if (!d)
        return io_error(err, "cannot open directory", path, errno);
    int rc = KR_OK;
    struct dirent *e;
    errno = 0;
    while (rc == KR_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        void *p = tpl_grow(l->names, &l->cap, l->count + 1, sizeof(*l->names));
        char *name = p ? strdup(e->d_name) : NULL;
        if (p)
            l->names = p;
        if (!name)
            rc = kr_error_set(err, KR_ERR_NOMEM, "%s: out of memory", path);
        else
            l->names[l->count++] = name;
    }
    if (rc == KR_OK && errno != 0)
        rc = io_error(err, "cannot read directory", path, errno);
    closedir(d);
    if (rc)
        names_release(l);
    else if (l->count > 1)
        qsort(l->names, l->count, sizeof(*l->names), cmp_names);
    return rc;
}

static bool strip_suffix(const char *s, size_t *len, const char *suffix)
{
    size_t n = strlen(suffix);
    if (*len <= n || memcmp(s + *len - n, suffix, n) != 0)
        return false;
    *len -= n;
    return true;
}

/* Compile rel ("pages/home.html") found at path; other files are skipped. */
static int load_template(struct loader *l, const char *rel, const char *path)
{
    size_t n = strlen(rel);
    bool html = strip_suffix(rel, &n, ".html");
    if (!html && !strip_suffix(rel, &n, ".txt"))
        return KR_OK;
    char name[PATH_MAX];
    memcpy(name, rel, n);
    name[n] = '\0';
    char *src;
    size_t len;
    int rc = read_file(path, TPL_SOURCE_MAX, &src, &len, l->err);
    if (rc)
        return rc;
    rc = tpl_set_add_labeled(l->set, name, path, src, len, html, l->err);
    free(src);
    l->templates += rc == KR_OK;
    return rc;
}

static int walk(struct loader *l, const char *rel, unsigned depth);

static int walk_entry(struct loader *l, const char *rel, const char *name, unsigned depth)
{
    char child[PATH_MAX];
    char path[PATH_MAX];
    int rc = join(child, rel, name, l->err);
    if (!rc)
        rc = join(path, l->root, child, l->err);
    if (rc)
        return rc;
    struct stat st;
    if (stat(path, &st) != 0)
        return io_error(l->err, "cannot stat", path, errno);
    if (S_ISREG(st.st_mode))
        return load_template(l, child, path);
    if (!S_ISDIR(st.st_mode))
        return KR_OK;
    if (depth == LOAD_DEPTH_MAX)
        return kr_error_set(l->err, KR_ERR_INVALID, "%s: folders nested deeper than %d", path,
                            LOAD_DEPTH_MAX);
    return walk(l, child, depth + 1);
}

static int walk(struct loader *l, const char *rel, unsigned depth)
{
    char dir[PATH_MAX];
    struct name_list names;
    int rc = join(dir, l->root, rel, l->err);
    if (!rc)
        rc = list_dir(dir, &names, l->err);
    if (rc)
        return rc;
    for (size_t i = 0; i < names.count && rc == KR_OK; i++)
        rc = walk_entry(l, rel, names.names[i], depth);
    names_release(&names);
    return rc;
}

/* "de.json" -> "de"; false for anything but ^[a-z]{2,3}\.json$. */
static bool catalogue_lang(const char *file, char lang[4])
{
    size_t n = 0;
    while (n < 4 && file[n] >= 'a' && file[n] <= 'z')
        n++;
    if (n < 2 || n > 3 || strcmp(file + n, ".json") != 0)
        return false;
    memcpy(lang, file, n);
    lang[n] = '\0';
    return true;
}

/* Messages of one language, merged from every file that has them. */
struct merged {
    char lang[4];
    json_t *messages;
};

#define LANGS_MAX 8

struct catalogues {
    struct merged langs[LANGS_MAX];
    size_t count;
};

static void catalogues_release(struct catalogues *c)
{
    for (size_t i = 0; i < c->count; i++)
        json_decref(c->langs[i].messages);
}

static json_t *catalogue_for(struct catalogues *c, const char *lang)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->langs[i].lang, lang) == 0)
            return c->langs[i].messages;
    if (c->count == LANGS_MAX)
        return NULL;
    struct merged *m = &c->langs[c->count];
    if (!(m->messages = json_object()))
        return NULL;
    memcpy(m->lang, lang, sizeof(m->lang));
    c->count++;
    return m->messages;
}

/* Read path and add its messages to lang's catalogue; a key that another
 * file of the same language already has is an error. */
static int merge_catalogue(struct catalogues *c, const char *lang, const char *path,
                           struct kr_error *err)
{
    char *data;
    size_t len;
    int rc = read_file(path, CATALOGUE_MAX, &data, &len, err);
    if (rc)
        return rc;
    json_error_t jerr;
    json_t *messages = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    free(data);
    if (!messages)
        return kr_error_set(err, KR_ERR_INVALID, "%s:%d: %s", path, jerr.line, jerr.text);
    json_t *into = catalogue_for(c, lang);
    if (!into)
        rc = kr_error_set(err, KR_ERR_INVALID, "%s: more than %d languages", path, LANGS_MAX);
    else if (!json_is_object(messages))
        rc = kr_error_set(err, KR_ERR_INVALID, "%s: catalogue is not a JSON object", path);
    const char *key;
    json_t *value;
    json_object_foreach(messages, key, value)
    {
        if (rc)
            break;
        if (json_object_get(into, key))
            rc = kr_error_set(err, KR_ERR_CONFLICT, "%s: message '%s' is defined twice", path, key);
        else if (json_object_set(into, key, value))
            rc = kr_error_set(err, KR_ERR_NOMEM, "%s: out of memory", path);
    }
    json_decref(messages);
    return rc;
}

/* Every LANG.json in dir; with modules true also in each subfolder
 * (locales/<module>/LANG.json, so that a module owns its messages). */
static int scan_locales(struct catalogues *c, const char *dir, bool modules, size_t *found,
                        struct kr_error *err)
{
    struct name_list names;
    int rc = list_dir(dir, &names, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < names.count && rc == KR_OK; i++) {
        char lang[4];
        char path[PATH_MAX];
        struct stat st;
        rc = join(path, dir, names.names[i], err);
        if (rc)
            break;
        if (catalogue_lang(names.names[i], lang)) {
            rc = merge_catalogue(c, lang, path, err);
            ++*found;
        } else if (modules && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            rc = scan_locales(c, path, false, found, err);
        }
    }
    names_release(&names);
    return rc;
}

static int load_locales(struct tpl_set *set, const char *dir, struct kr_error *err)
{
    struct catalogues c = {0};
    size_t found = 0;
    int rc = scan_locales(&c, dir, true, &found, err);
    if (!rc && found == 0)
        rc = kr_error_set(err, KR_ERR_INVALID, "%s: no message catalogue (LANG.json)", dir);
    for (size_t i = 0; i < c.count && rc == KR_OK; i++) {
        char label[PATH_MAX];
        snprintf(label, sizeof(label), "%s/**/%s.json", dir, c.langs[i].lang);
        rc = tpl_set_add_catalogue(set, c.langs[i].lang, label, c.langs[i].messages, err);
    }
    catalogues_release(&c);
    return rc;
}

int tpl_set_load(struct tpl_set **out, const char *templates_dir, const char *locales_dir,
                 struct kr_error *err)
{
    *out = NULL;
    struct tpl_set *set;
    int rc = tpl_set_new(&set, err);
    if (rc)
        return rc;
    struct loader l = {.set = set, .root = templates_dir, .err = err};
    rc = walk(&l, "", 0);
    if (!rc && l.templates == 0)
        rc = kr_error_set(err, KR_ERR_INVALID, "%s: no templates (*.html, *.txt)", templates_dir);
    if (!rc)
        rc = load_locales(set, locales_dir, err);
    if (!rc)
        rc = tpl_set_link(set, err);
    if (rc) {
        tpl_set_free(set);
        return rc;
    }
    kr_log(KR_LOG_DEBUG, "templates_loaded", "%zu templates, %zu languages, default %s", set->count,
           set->catalogue_count, tpl_default_lang(set));
    *out = set;
    return KR_OK;
}
