/*
 * title - process titles for ps(1) through libbsd's setproctitle.
 */
#ifndef PREFORKD_TITLE_H
#define PREFORKD_TITLE_H

#include <stddef.h>

/* Once, in main(): notes the memory titles go to, then libbsd's
 * setproctitle_init(). */
void	title_init(int argc, char **argv);

/*
 * Sets the title ("preforkd: worker 3 (gen 2)"). A title shorter than
 * the original argv[0] or than an earlier title is padded with spaces:
 * libbsd marks a title shorter than argv[0] with a '.' where argv[0]
 * ended, which ps would show after the title.
 */
void	title_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Writes the n bytes of s as the title, with no formatting, no lock and
 * no syscall: the one title call a signal handler may make (see crash.c).
 */
void	title_write(const char *s, size_t n);

#endif
