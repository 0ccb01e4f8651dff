/* The in-process unwinder of the CFI tests: probe() captures its own
 * registers and walks the stack twice, with cfi.c alone through each
 * object's .eh_frame_hdr (what the runtime does) and with libgidwarf's
 * gd_unwind_step on the files in /proc/self/maps, printing each chain. */
#ifndef UNWIND_PROBE_H
#define UNWIND_PROBE_H
void probe(const char *tag);
#endif
