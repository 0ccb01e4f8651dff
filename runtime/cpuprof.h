/*
 * cpuprof.h — the CPU profile (cpuprof.c), for gort_cpu_profile_start/stop
 * and the debug endpoint's /debug/pprof/profile.
 */
#ifndef GORT_CPUPROF_H
#define GORT_CPUPROF_H

struct m;
struct ppbuf;

/* Starts the timers of every M; -1 with errno EBUSY when a profile runs. */
int cpuprof_begin(void);

/* Stops it and encodes what it recorded into out (profile.proto); -1 with
 * errno when none runs or memory runs out. */
int cpuprof_end(struct ppbuf *out);

/* A new M's thread is running: it gets its timer when a profile runs. */
void cpuprof_m_started(struct m *m);

#endif /* GORT_CPUPROF_H */
