/*
 * hanginit - a test-only module whose init never returns when the option
 * "hang" is set (in the start-up/reload check and in workers alike): the
 * module check must give up on it, name it, and leave the master
 * supervising. With "uid-file PATH", init records the uid it runs as
 * there, so a test can see which user module code runs as. Otherwise it
 * answers "hanginit ok".
 *
 *   preforkd -m /h=hanginit.so --module-option '/h hang yes'
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <preforkd.h>

static int
hanginit_init(const struct pfd_init *init, void **state)
{
	const char *path = pfd_init_option(init, "uid-file");
	FILE *f;

	(void)state;
	if (path != NULL) {
		if ((f = fopen(path, "w")) == NULL)
			return -1;
		fprintf(f, "%d\n", (int)geteuid());
		fclose(f);
	}
	if (pfd_init_option(init, "hang") != NULL)
		for (;;)	/* only a kill ends it, on purpose */
			pause();
	return 0;
}

static int
hanginit_handle(struct pfd_req *req, void *state)
{
	static const char body[] = "hanginit ok\n";

	(void)state;
	pfd_add_header(req, "Content-Type", "text/plain");
	return pfd_send(req, body, sizeof(body) - 1) == 0 ? 0 : 500;
}

PREFORKD_MODULE(.name = "hanginit", .init = hanginit_init,
    .handle = hanginit_handle);
