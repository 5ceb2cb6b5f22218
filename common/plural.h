/*
 * plural: the word that goes with a count in a summary line, "1 job" but
 * "0 jobs", "2 jobs": printf("%ld %s", n, PLURAL(n, "job", "jobs")).
 */
#ifndef ODOOSYNC_PLURAL_H
#define ODOOSYNC_PLURAL_H

#define PLURAL(n, one, many) ((n) == 1 ? (one) : (many))

#endif
