/*
 * ptrace_access.h — which rule makes the kernel refuse goinspect access to
 * a process, so that a "Permission denied" names the rule that applied.
 *
 * Linux decides in __ptrace_may_access, in this order: unless the tracer
 * has CAP_SYS_PTRACE, its uid must be the process's real, effective and
 * saved uid and its gid the three gids, and the process must be dumpable
 * (prctl(PR_SET_DUMPABLE, 0) clears that, and so does a change of
 * credentials, as in a set-user-ID program).  Then the security modules:
 * Yama's kernel.yama.ptrace_scope, which only governs attaching (ptrace,
 * process_vm_readv), not reading /proc/PID/exe or maps; SELinux, AppArmor.
 * What goinspect sees: the uids, gids and CapEff of /proc/self/status and
 * /proc/PID/status; dumpable from the owner of /proc/PID/status, which
 * the kernel makes root for a process that is not dumpable.
 */
#ifndef GOINSPECT_PTRACE_ACCESS_H
#define GOINSPECT_PTRACE_ACCESS_H

#include <stddef.h>
#include <sys/types.h>

enum ptrace_access {
    ACCESS_READ,        /* /proc/PID/exe and maps (PTRACE_MODE_READ_FSCREDS) */
    ACCESS_ATTACH,      /* ptrace, process_vm_readv (PTRACE_MODE_ATTACH_REALCREDS) */
};

/* Writes into why (n bytes) the rule that refuses this access to pid. */
void ptrace_refusal(pid_t pid, enum ptrace_access mode, char *why, size_t n);

#endif
