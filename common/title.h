/*
 * title - process titles for ps(1) through libbsd's setproctitle.
 */
#ifndef PREFORKD_TITLE_H
#define PREFORKD_TITLE_H

/*
 * Sets the title ("preforkd: worker 3 (gen 2)"). A title shorter than an
 * earlier one is padded with spaces: libbsd marks a shortened title with
 * a '.' where the old one ended, which ps would show.
 */
void	title_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
