/*
 * demangle.h — C++ names demangled with libstdc++'s __cxa_demangle, loaded
 * when first needed (goinspect does not link libstdc++; without it nothing
 * is demangled).
 */
#ifndef GOINSPECT_DEMANGLE_H
#define GOINSPECT_DEMANGLE_H

/* name demangled (malloc'ed), or NULL when it is not an Itanium C++ ABI
 * name ("_Z...", "_GLOBAL_.I_..." and "_GLOBAL_.D_...") or cannot be
 * demangled. */
char *demangle_cxx(const char *name);

/* An ELF symbol's name demangled as binutils' bfd_demangle does it for
 * x86-64: leading '.' and '$' set aside, the name cut at its first '@' (a
 * symbol version, "@plt"), the rest demangled, and both put back; NULL
 * when the rest is not a name demangle_cxx demangles. */
char *demangle_symbol(const char *name);

#endif
