/*
 * vdso.c — the vdso module (vdso.h).
 *
 * The image is read through the target (a live process's memory; a core
 * file keeps the vdso's pages, and its reader names the mapping [vdso]
 * from AT_SYSINFO_EHDR), so both backends give the same module.
 */
#include "vdso.h"

#include <stdlib.h>
#include <string.h>

#include "fail.h"

enum { MAX_VDSO = 1 << 20 };    /* a larger [vdso] is not one */

static const struct mapping *vdso_mapping(const struct procmaps *maps)
{
    for (size_t i = 0; i < maps->n; i++)
        if (strcmp(maps->v[i].path, "[vdso]") == 0)
            return &maps->v[i];
    return NULL;
}

void vdso_add(struct modules *ms, struct target *t)
{
    const struct mapping *mp = vdso_mapping(&t->maps);
    if (!mp || mp->end - mp->start > MAX_VDSO || modules_find(ms, mp->start))
        return;
    size_t size = (size_t)(mp->end - mp->start);
    uint8_t *image = xmalloc(size);
    if (target_read(t, mp->start, image, size) != size) {
        free(image);
        return;
    }
    modules_add_image(ms, "[vdso]", mp->start, mp->end, image, size);
}
