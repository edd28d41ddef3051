/* Elapsed time for progress lines, logs and benchmarks. */
#ifndef HEADCAL_CLOCK_H
#define HEADCAL_CLOCK_H

/* Seconds on the monotonic clock (an arbitrary origin: use differences). */
double hc_seconds(void);

#endif
