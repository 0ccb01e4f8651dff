/*
 * elf_file.c — one ELF file through libelf: the checks that make a file
 * usable, its section and PT_LOAD tables, build-id, .gnu_debuglink, the
 * supplementary file named by .gnu_debugaltlink or .debug_sup, and section
 * bytes (mapped, or decompressed for SHF_COMPRESSED and .zdebug_*).
 */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#ifndef DF_1_PIE
#define DF_1_PIE 0x08000000
#endif

static int bad(struct elf_file *f, struct gd_error *err, int code, const char *why)
{
    return gd_fail(err, code, "%s: %s", f->path, why);
}

static void read_notes(struct elf_file *f, Elf_Scn *scn)
{
    Elf_Data *d = elf_getdata(scn, NULL);
    GElf_Nhdr nh;
    size_t off = 0, name_off, desc_off;

    if (!d)
        return;
    while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
            memcmp((const char *)d->d_buf + name_off, "GNU", 4) == 0 &&
            nh.n_descsz > 0 && nh.n_descsz <= 64) {
            f->build_id = (const uint8_t *)d->d_buf + desc_off;
            f->build_id_len = nh.n_descsz;
            return;
        }
    }
}

static void read_debuglink(struct elf_file *f, Elf_Scn *scn)
{
    Elf_Data *d = elf_getdata(scn, NULL);
    if (!d || d->d_size < 8)
        return;
    const char *s = d->d_buf;
    const char *z = memchr(s, 0, d->d_size);
    if (!z || z == s)
        return;
    size_t crc_off = ((size_t)(z - s) + 1 + 3) & ~(size_t)3;
    if (crc_off + 4 > d->d_size)
        return;
    uint32_t crc;
    memcpy(&crc, s + crc_off, 4);
    f->debuglink = s;
    f->debuglink_crc = crc;
}

/* .gnu_debugaltlink: the file name, NUL, then the build-id. */
static void read_altlink(struct elf_file *f, Elf_Scn *scn)
{
    Elf_Data *d = elf_getdata(scn, NULL);
    if (!d || d->d_size < 2)
        return;
    const char *s = d->d_buf;
    const char *z = memchr(s, 0, d->d_size);
    if (!z || z == s || (size_t)(z - s) + 1 == d->d_size)
        return;
    f->altlink = s;
    f->altlink_id = (const uint8_t *)z + 1;
    f->altlink_id_len = d->d_size - (size_t)(z - s) - 1;
    f->altlink_is_sup = false;
}

/* DWARF 5's .debug_sup: version (2 bytes, 5), is_supplementary (1 byte),
 * the file name (NUL-terminated), the checksum's length (ULEB128) and the
 * checksum.  A supplementary file records its own checksum there; a file
 * that uses one records the one it must have, after its name.  The
 * .gnu_debugaltlink of the same file, if any, is preferred. */
static void read_debug_sup(struct elf_file *f, Elf_Scn *scn)
{
    Elf_Data *d = elf_getdata(scn, NULL);
    if (!d || d->d_size < 5)
        return;
    struct rd r = rd_make(d->d_buf, d->d_size);
    uint64_t version = rd_uint(&r, 2);
    bool is_sup = rd_u8(&r) != 0;
    const char *name = rd_cstr(&r);
    uint64_t len = rd_uleb(&r);
    if (r.bad || version != 5 || !name || len == 0 || len > rd_left(&r))
        return;
    if (is_sup) {
        f->sup_checksum = r.p;
        f->sup_checksum_len = (size_t)len;
    } else if (*name && !f->altlink) {
        f->altlink = name;
        f->altlink_id = r.p;
        f->altlink_id_len = (size_t)len;
        f->altlink_is_sup = true;
    }
}

static void read_dynamic(struct elf_file *f, Elf_Scn *scn, const GElf_Shdr *sh)
{
    Elf_Data *d = elf_getdata(scn, NULL);
    if (!d || sh->sh_entsize == 0)
        return;
    size_t n = d->d_size / sh->sh_entsize;
    for (size_t i = 0; i < n; i++) {
        GElf_Dyn dyn;
        if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag == DT_NULL)
            break;
        if (dyn.d_tag == DT_FLAGS_1 && (dyn.d_un.d_val & DF_1_PIE))
            f->df1_pie = true;
    }
}

/* f->fd is open and f->path named: reads the file.  sup: a supplementary
 * file (dwz writes them as ET_REL) is accepted too. */
static int read_file(struct elf_file *f, bool sup, struct gd_error *err)
{
    GElf_Ehdr eh;
    size_t shnum = 0, shstrndx = 0, phnum = 0;

    unsigned char ident[EI_NIDENT];
    ssize_t got = pread(f->fd, ident, sizeof ident, 0);
    if (got < 4 || memcmp(ident, ELFMAG, SELFMAG) != 0)
        return bad(f, err, GD_ENOTELF, "not an ELF file");
    if (got < EI_NIDENT)
        return bad(f, err, GD_EBADELF, "truncated ELF header");
    if (ident[EI_CLASS] != ELFCLASS64 || ident[EI_DATA] != ELFDATA2LSB)
        return bad(f, err, GD_EUNSUP, "only 64-bit little-endian ELF is supported");

    elf_version(EV_CURRENT);
    f->elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
    if (!f->elf || elf_kind(f->elf) != ELF_K_ELF)
        return bad(f, err, GD_EBADELF, f->elf ? "not an ELF object" : elf_errmsg(-1));
    if (!gelf_getehdr(f->elf, &eh))
        return bad(f, err, GD_EBADELF, "truncated ELF header");
    if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN && !(sup && eh.e_type == ET_REL))
        return bad(f, err, GD_EUNSUP, eh.e_type == ET_REL ? "a relocatable object (link it first)"
                                    : eh.e_type == ET_CORE ? "a core file, not a binary"
                                    : "not an executable or shared object");
    f->type = eh.e_type;
    f->entry = eh.e_entry;
    if (elf_getshdrnum(f->elf, &shnum) != 0 || elf_getshdrstrndx(f->elf, &shstrndx) != 0)
        return bad(f, err, GD_EBADELF, "section header table beyond the end of the file");
    if (eh.e_shoff > f->file_size ||
        (shnum && (uint64_t)shnum * eh.e_shentsize > f->file_size - eh.e_shoff))
        return bad(f, err, GD_EBADELF, "truncated (section headers past the end of the file)");
    if (elf_getphdrnum(f->elf, &phnum) != 0)
        return bad(f, err, GD_EBADELF, "bad program header table");

    f->secs = calloc(shnum ? shnum : 1, sizeof *f->secs);
    f->segs = calloc(phnum ? phnum : 1, sizeof *f->segs);
    if (!f->secs || !f->segs)
        return gd_fail(err, GD_ENOMEM, "out of memory");
    f->nsecs = shnum;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(f->elf, (int)i, &ph))
            return bad(f, err, GD_EBADELF, "truncated program header table");
        if (ph.p_type == PT_INTERP)
            f->has_interp = true;
        if (ph.p_type != PT_LOAD)
            continue;
        struct gd_segment *s = &f->segs[f->nsegs++];
        s->vaddr = ph.p_vaddr;
        s->memsz = ph.p_memsz;
        s->offset = ph.p_offset;
        s->filesz = ph.p_filesz;
        s->align = ph.p_align;
        s->flags = ph.p_flags;
    }

    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(f->elf, scn)) != NULL) {
        GElf_Shdr sh;
        size_t idx = elf_ndxscn(scn);
        if (idx >= shnum || !gelf_getshdr(scn, &sh))
            return bad(f, err, GD_EBADELF, "bad section header");
        struct gd_section *s = &f->secs[idx];
        const char *name = elf_strptr(f->elf, shstrndx, sh.sh_name);
        s->name = name ? name : "";
        s->addr = sh.sh_addr;
        s->size = sh.sh_size;
        s->offset = sh.sh_offset;
        s->type = sh.sh_type;
        s->flags = sh.sh_flags;
        s->index = (uint32_t)idx;
        bool in_file = sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL;
        if (in_file && (sh.sh_offset > f->file_size || sh.sh_size > f->file_size - sh.sh_offset)) {
            /* Truncated file: keep the header (addresses stay known) but
             * never read the bytes. */
            s->type = SHT_NOBITS;
            continue;
        }
        if (sh.sh_type == SHT_NOTE && !f->build_id)
            read_notes(f, scn);
        else if (sh.sh_type == SHT_DYNAMIC)
            read_dynamic(f, scn, &sh);
        else if (strcmp(s->name, ".gnu_debuglink") == 0)
            read_debuglink(f, scn);
        else if (strcmp(s->name, ".gnu_debugaltlink") == 0)
            read_altlink(f, scn);
        else if (strcmp(s->name, ".debug_sup") == 0)
            read_debug_sup(f, scn);
    }
    for (size_t i = 0; i < shnum; i++)
        if (!f->secs[i].name)
            f->secs[i].name = "";
    return GD_OK;
}

static int open_file(struct elf_file *f, const char *path, bool sup, struct gd_error *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = strdup(path);
    if (!f->path)
        return gd_fail(err, GD_ENOMEM, "out of memory");
    int fd = regular_file_open(path, &f->file_size, err);
    if (fd < 0)
        return fd;
    f->fd = fd;
    return read_file(f, sup, err);
}

int elf_file_open(struct elf_file *f, const char *path, struct gd_error *err)
{
    return open_file(f, path, false, err);
}

int elf_file_open_fd(struct elf_file *f, int fd, const char *name, struct gd_error *err)
{
    struct stat st;
    memset(f, 0, sizeof *f);
    f->fd = fd;
    f->path = strdup(name);
    if (!f->path)
        return gd_fail(err, GD_ENOMEM, "out of memory");
    if (fstat(fd, &st) != 0)
        return gd_fail(err, GD_ENOENT, "%s: %s", name, strerror(errno));
    f->file_size = (uint64_t)st.st_size;
    return read_file(f, false, err);
}

int elf_file_open_sup(struct elf_file *f, const char *path, struct gd_error *err)
{
    return open_file(f, path, true, err);
}

void elf_file_close(struct elf_file *f)
{
    if (f->elf)
        elf_end(f->elf);
    if (f->fd >= 0)
        close(f->fd);
    free(f->secs);
    free(f->segs);
    free(f->path);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

const struct gd_section *elf_file_section(const struct elf_file *f, const char *name)
{
    for (size_t i = 1; i < f->nsecs; i++)
        if (strcmp(f->secs[i].name, name) == 0)
            return &f->secs[i];
    return NULL;
}

const struct gd_section *elf_file_debug_section(const struct elf_file *f, const char *name)
{
    const struct gd_section *s = elf_file_section(f, name);
    if (!s || s->type == SHT_NOBITS) {
        char z[64];
        snprintf(z, sizeof z, ".z%s", name + 1);
        const struct gd_section *zs = elf_file_section(f, z);
        if (zs && zs->type != SHT_NOBITS)
            s = zs;
    }
    return s && s->type != SHT_NOBITS && s->size > 0 ? s : NULL;
}

bool elf_file_has_dwarf(const struct elf_file *f)
{
    return elf_file_debug_section(f, ".debug_info") != NULL;
}

int elf_file_bytes(struct elf_file *f, const struct gd_section *s, struct gd_buf *out,
                   struct gd_error *err)
{
    out->data = NULL;
    out->size = 0;
    if (!s || s->type == SHT_NOBITS || s->type == SHT_NULL || s->size == 0)
        return GD_OK;
    Elf_Scn *scn = elf_getscn(f->elf, s->index);
    if (!scn)
        return gd_fail(err, GD_EBADELF, "%s: section %s: %s", f->path, s->name, elf_errmsg(-1));
    if (s->flags & SHF_COMPRESSED) {
        if (elf_compress(scn, 0, 0) < 0)
            return gd_fail(err, GD_EBADELF, "%s: section %s: cannot decompress: %s",
                           f->path, s->name, elf_errmsg(-1));
    } else if (strncmp(s->name, ".zdebug", 7) == 0) {
        if (elf_compress_gnu(scn, 0, 0) < 0)
            return gd_fail(err, GD_EBADELF, "%s: section %s: cannot decompress: %s",
                           f->path, s->name, elf_errmsg(-1));
    }
    Elf_Data *d = elf_getdata(scn, NULL);
    if (!d)
        return gd_fail(err, GD_EBADELF, "%s: section %s: %s", f->path, s->name, elf_errmsg(-1));
    out->data = d->d_buf;
    out->size = d->d_size;
    return GD_OK;
}
