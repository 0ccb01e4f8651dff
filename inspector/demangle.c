/*
 * demangle.c — C++ names (demangle.h).
 */
#include "demangle.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static char *(*cxa_demangle)(const char *, char *, size_t *, int *);

static bool load(void)
{
    static bool tried;
    if (!tried) {
        tried = true;
        void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL);
        if (h)
            *(void **)&cxa_demangle = dlsym(h, "__cxa_demangle");
    }
    return cxa_demangle != NULL;
}

/* What the Itanium demangler takes for a mangled name (and not for a type,
 * which __cxa_demangle would also demangle: "i" is "int"). */
static bool is_mangled(const char *s)
{
    if (s[0] == '_' && s[1] == 'Z')
        return true;
    return strncmp(s, "_GLOBAL_", 8) == 0 && s[8] && strchr("._$", s[8]) &&
           (s[9] == 'D' || s[9] == 'I') && s[10] == '_';
}

char *demangle_cxx(const char *name)
{
    if (!is_mangled(name) || !load())
        return NULL;
    int status = 0;
    char *d = cxa_demangle(name, NULL, NULL, &status);
    if (d && status == 0)
        return d;
    free(d);
    return NULL;
}

char *demangle_symbol(const char *name)
{
    size_t pre = strspn(name, ".$");
    const char *at = strchr(name + pre, '@');
    size_t len = at ? (size_t)(at - name) - pre : strlen(name + pre);
    char *core = strndup(name + pre, len);
    if (!core)
        return NULL;
    char *d = demangle_cxx(core);
    free(core);
    if (!d || (pre == 0 && !at))
        return d;
    const char *suffix = at ? at : "";
    size_t n = pre + strlen(d) + strlen(suffix) + 1;
    char *whole = malloc(n);
    if (whole) {
        memcpy(whole, name, pre);
        strcpy(whole + pre, d);
        strcat(whole, suffix);
    }
    free(d);
    return whole;
}
